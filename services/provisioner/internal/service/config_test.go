package service_test

import (
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/config/configtest"
	"github.com/simbridge/simbridge/services/provisioner/internal/service"
)

func required() map[string]string {
	return map[string]string{"CREATE_QUEUE": "q.fifo", "UPDATE_QUEUE": "u.fifo", "SIM_TABLE": "t", "KMS_KEY_ID": "k", "IOT_POLICY_NAME": "p",
		"SUCCESS_TOPIC_ARN": "arn:s", "FAILURE_TOPIC_ARN": "arn:f", "LEASE_TABLE": "l",
		"CA_KMS_KEY_ID": "alias/ca", "CA_CERTIFICATE_PARAMETER": "ca-cert"}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	configtest.Run(t, required(), []configtest.Case[service.Config]{
		{Name: "defaults follow AWS IoT's default quotas and the own CA", Check: func(t *testing.T, c service.Config) {
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
		{Name: "quotas are configurable", Set: map[string]string{"IOT_QUOTAS": "RegisterCertificate=50"},
			Check: func(t *testing.T, c service.Config) {
				if len(c.IoTQuotas) != 1 || c.IoTQuotas["RegisterCertificate"] != 50 {
					t.Errorf("quotas %v", c.IoTQuotas)
				}
			}},
		{Name: "zero quota refused", Set: map[string]string{"IOT_QUOTAS": "CreateThing=0"}, WantErr: []string{"must be positive"}},
		{Name: "own CA needs its key and certificate", Set: map[string]string{"CA_KMS_KEY_ID": ""}, WantErr: []string{"CA_KMS_KEY_ID"}},
		{Name: "Amazon's CA needs neither", Set: map[string]string{"CERT_AUTHORITY": "aws", "CA_KMS_KEY_ID": "", "CA_CERTIFICATE_PARAMETER": ""},
			Check: func(t *testing.T, c service.Config) {
				if c.CertAuthority != "aws" {
					t.Errorf("authority %s", c.CertAuthority)
				}
			}},
		{Name: "unknown authority refused", Set: map[string]string{"CERT_AUTHORITY": "letsencrypt"}, WantErr: []string{"CERT_AUTHORITY"}},
		{Name: "device keys generated ahead by default", Check: func(t *testing.T, c service.Config) {
			if c.DeviceKeyPool != 32 {
				t.Errorf("DEVICE_KEY_POOL %d", c.DeviceKeyPool)
			}
		}},
		{Name: "key pool of none is on-demand generation", Set: map[string]string{"DEVICE_KEY_POOL": "0"}},
		{Name: "negative key pool refused", Set: map[string]string{"DEVICE_KEY_POOL": "-1"}, WantErr: []string{"DEVICE_KEY_POOL"}},
		{Name: "unknown key type refused", Set: map[string]string{"DEVICE_KEY_TYPE": "dsa"}, WantErr: []string{"DEVICE_KEY_TYPE"}},
		{Name: "every problem reported at once", Set: map[string]string{"DEVICE_KEY_TYPE": "dsa", "WORKERS": "0", "CLAIM_TTL": "1s"},
			WantErr: []string{"WORKERS"}},
		{Name: "unknown retry mode refused", Set: map[string]string{"AWS_RETRY_MODE": "eager"}, WantErr: []string{"AWS_RETRY_MODE"}},
		{Name: "too many workers refused", Set: map[string]string{"WORKERS": "1000"}, WantErr: []string{"WORKERS"}},
		{Name: "missing queue refused", Set: map[string]string{"CREATE_QUEUE": ""}, WantErr: []string{"CREATE_QUEUE"}},
		{Name: "key mode server by default: nothing changes for existing firmware", Check: func(t *testing.T, c service.Config) {
			if c.KeyMode != "server" {
				t.Errorf("KEY_MODE %q", c.KeyMode)
			}
		}},
		{Name: "key mode device", Set: map[string]string{"KEY_MODE": "device"}},
		{Name: "unknown key mode refused", Set: map[string]string{"KEY_MODE": "tpm"}, WantErr: []string{"KEY_MODE"}},
		{Name: "enrolment needs the own CA", Set: map[string]string{"KEY_MODE": "both", "CERT_AUTHORITY": "aws"}, WantErr: []string{"KEY_MODE=both needs CERT_AUTHORITY=own"}},
	})
}
