package service_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/config"
	"github.com/simbridge/simbridge/services/provisioner/internal/service"
)

func required() map[string]string {
	return map[string]string{"CREATE_QUEUE": "q.fifo", "SIM_TABLE": "t", "KMS_KEY_ID": "k", "IOT_POLICY_NAME": "p",
		"SUCCESS_TOPIC_ARN": "arn:s", "FAILURE_TOPIC_ARN": "arn:f", "LEASE_TABLE": "l",
		"CA_KMS_KEY_ID": "alias/ca", "CA_CERTIFICATE_PARAMETER": "ca-cert"}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		set     map[string]string
		wantErr string
		check   func(t *testing.T, c service.Config)
	}{
		{name: "defaults follow AWS IoT's default quotas and the own CA", check: func(t *testing.T, c service.Config) {
			want := map[string]float64{"CreateKeysAndCertificate": 10, "RegisterCertificate": 10, "AttachPolicy": 15, "CreateThing": 100,
				"AttachThingPrincipal": 100, "UpdateCertificate": 10, "DescribeThing": 350}
			for op, rps := range want {
				if c.IoTQuotas[op] != rps {
					t.Errorf("%s = %v, want %v", op, c.IoTQuotas[op], rps)
				}
			}
			for _, op := range service.IoTOperations {
				if _, ok := c.IoTQuotas[op]; !ok {
					t.Errorf("no default quota for %s, an operation the provisioner calls", op)
				}
			}
			if c.Retry.RetryMode != "standard" || c.Workers != 8 || c.CertAuthority != "own" || c.DeviceKeyType != "rsa2048" ||
				c.CertValidity != 20*365*24*time.Hour {
				t.Errorf("retry %+v workers %d authority %s key %s validity %v", c.Retry, c.Workers, c.CertAuthority, c.DeviceKeyType, c.CertValidity)
			}
		}},
		{name: "quotas are configurable", set: map[string]string{"IOT_QUOTAS": "RegisterCertificate=50"},
			check: func(t *testing.T, c service.Config) {
				if len(c.IoTQuotas) != 1 || c.IoTQuotas["RegisterCertificate"] != 50 {
					t.Errorf("quotas %v", c.IoTQuotas)
				}
			}},
		{name: "zero quota refused", set: map[string]string{"IOT_QUOTAS": "CreateThing=0"}, wantErr: "must be positive"},
		{name: "own CA needs its key and certificate", set: map[string]string{"CA_KMS_KEY_ID": ""}, wantErr: "CA_KMS_KEY_ID"},
		{name: "Amazon's CA needs neither", set: map[string]string{"CERT_AUTHORITY": "aws", "CA_KMS_KEY_ID": "", "CA_CERTIFICATE_PARAMETER": ""},
			check: func(t *testing.T, c service.Config) {
				if c.CertAuthority != "aws" {
					t.Errorf("authority %s", c.CertAuthority)
				}
			}},
		{name: "unknown authority refused", set: map[string]string{"CERT_AUTHORITY": "letsencrypt"}, wantErr: "CERT_AUTHORITY"},
		{name: "unknown key type refused", set: map[string]string{"DEVICE_KEY_TYPE": "dsa"}, wantErr: "DEVICE_KEY_TYPE"},
		{name: "every problem reported at once", set: map[string]string{"DEVICE_KEY_TYPE": "dsa", "WORKERS": "0", "CLAIM_TTL": "1s"},
			wantErr: "WORKERS"},
		{name: "unknown retry mode refused", set: map[string]string{"AWS_RETRY_MODE": "eager"}, wantErr: "AWS_RETRY_MODE"},
		{name: "too many workers refused", set: map[string]string{"WORKERS": "1000"}, wantErr: "WORKERS"},
		{name: "missing queue refused", set: map[string]string{"CREATE_QUEUE": ""}, wantErr: "CREATE_QUEUE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := required()
			for k, v := range tc.set {
				if v == "" {
					delete(env, k)
				} else {
					env[k] = v
				}
			}
			var c service.Config
			err := config.LoadFrom(context.Background(), config.MapLookuper(env), &c)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("want error %q, got %v", tc.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}
