package service_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/config"
	"github.com/simbridge/simbridge/services/sim-poller/internal/service"
)

func TestConfigIsValidatedAtStart(t *testing.T) {
	t.Parallel()
	base := map[string]string{
		"ONCE_USERNAME": "u", "ONCE_PASSWORD_VALUE": "p", "SIM_TABLE": "s", "LEASE_TABLE": "l",
		"CREATE_QUEUE": "c", "DISABLE_QUEUE": "d", "SYNC_QUEUE": "r", "FAILURE_TOPIC_ARN": "arn:aws:sns:us-east-1:1:f",
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, c service.Config)
	}{
		{name: "defaults", check: func(t *testing.T, c service.Config) {
			if c.SyncInterval != 15*time.Minute || c.SyncSchedule != "" || c.LeaseTTL != 30*time.Second || c.MaxDisableShare != 0.1 {
				t.Errorf("defaults %+v", c)
			}
		}},
		{name: "cron expression", env: map[string]string{"SYNC_SCHEDULE": "*/5 * * * *"}},
		{name: "cron descriptor with time zone", env: map[string]string{"SYNC_SCHEDULE": "CRON_TZ=Europe/Berlin @daily"}},
		{name: "cron every", env: map[string]string{"SYNC_SCHEDULE": "@every 10m"}},
		{name: "invalid cron expression", env: map[string]string{"SYNC_SCHEDULE": "61 * * * *"}, wantErr: "SYNC_SCHEDULE"},
		{name: "cron with seconds field is refused", env: map[string]string{"SYNC_SCHEDULE": "0 */5 * * * *"}, wantErr: "SYNC_SCHEDULE"},
		{name: "interval under a second", env: map[string]string{"SYNC_INTERVAL": "10ms"}, wantErr: "SYNC_INTERVAL"},
		{name: "lease table is required", env: map[string]string{"LEASE_TABLE": ""}, wantErr: "LEASE_TABLE"},
		{name: "lease TTL too short to renew", env: map[string]string{"LEASE_TTL": "1s"}, wantErr: "LEASE_TTL"},
		{name: "share above one", env: map[string]string{"MAX_DISABLE_SHARE": "1.5"}, wantErr: "MAX_DISABLE_SHARE"},
		{name: "no password source", env: map[string]string{"ONCE_PASSWORD_VALUE": ""}, wantErr: "ONCE_PASSWORD_"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tc.env {
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
					t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}
