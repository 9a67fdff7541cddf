package service_test

import (
	"context"
	"strings"
	"testing"

	"github.com/simbridge/simbridge/libs/config"
	"github.com/simbridge/simbridge/services/provisioner/internal/service"
)

func required() map[string]string {
	return map[string]string{"CREATE_QUEUE": "q.fifo", "SIM_TABLE": "t", "KMS_KEY_ID": "k", "IOT_POLICY_NAME": "p",
		"SUCCESS_TOPIC_ARN": "arn:s", "FAILURE_TOPIC_ARN": "arn:f"}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		set     map[string]string
		wantErr string
		check   func(t *testing.T, c service.Config)
	}{
		{name: "defaults follow AWS IoT's default quotas", check: func(t *testing.T, c service.Config) {
			want := map[string]float64{"CreateKeysAndCertificate": 10, "AttachPolicy": 15, "CreateThing": 100,
				"AttachThingPrincipal": 100, "UpdateCertificate": 10, "DeleteCertificate": 10}
			for op, rps := range want {
				if c.IoTRateLimits[op] != rps {
					t.Errorf("%s = %v, want %v", op, c.IoTRateLimits[op], rps)
				}
			}
			if c.Retry.RetryMode != "adaptive" || c.Workers != 8 {
				t.Errorf("retry %+v workers %d", c.Retry, c.Workers)
			}
		}},
		{name: "limits are configurable", set: map[string]string{"IOT_RATE_LIMITS": "CreateKeysAndCertificate=50"},
			check: func(t *testing.T, c service.Config) {
				if len(c.IoTRateLimits) != 1 || c.IoTRateLimits["CreateKeysAndCertificate"] != 50 {
					t.Errorf("limits %v", c.IoTRateLimits)
				}
			}},
		{name: "zero limit refused", set: map[string]string{"IOT_RATE_LIMITS": "CreateThing=0"}, wantErr: "must be positive"},
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
