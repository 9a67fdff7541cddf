package service_test

import (
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/config/configtest"
	"github.com/simbridge/simbridge/services/sim-poller/internal/service"
)

func TestConfigIsValidatedAtStart(t *testing.T) {
	t.Parallel()
	base := map[string]string{
		"ONCE_USERNAME": "u", "ONCE_PASSWORD_VALUE": "p", "SIM_TABLE": "s", "LEASE_TABLE": "l",
		"CREATE_QUEUE": "c", "DISABLE_QUEUE": "d", "SYNC_QUEUE": "r", "FAILURE_TOPIC_ARN": "arn:aws:sns:us-east-1:1:f",
	}
	configtest.Run(t, base, []configtest.Case[service.Config]{
		{Name: "defaults", Check: func(t *testing.T, c service.Config) {
			if c.SyncInterval != 15*time.Minute || c.SyncSchedule != "" || c.LeaseTTL != 30*time.Second || c.MaxDisableShare != 0.1 {
				t.Errorf("defaults %+v", c)
			}
		}},
		{Name: "cron expression", Set: map[string]string{"SYNC_SCHEDULE": "*/5 * * * *"}},
		{Name: "cron descriptor with time zone", Set: map[string]string{"SYNC_SCHEDULE": "CRON_TZ=Europe/Berlin @daily"}},
		{Name: "cron every", Set: map[string]string{"SYNC_SCHEDULE": "@every 10m"}},
		{Name: "invalid cron expression", Set: map[string]string{"SYNC_SCHEDULE": "61 * * * *"}, WantErr: []string{"SYNC_SCHEDULE"}},
		{Name: "cron with seconds field is refused", Set: map[string]string{"SYNC_SCHEDULE": "0 */5 * * * *"}, WantErr: []string{"SYNC_SCHEDULE"}},
		{Name: "interval under a second", Set: map[string]string{"SYNC_INTERVAL": "10ms"}, WantErr: []string{"SYNC_INTERVAL"}},
		{Name: "lease table is required", Set: map[string]string{"LEASE_TABLE": ""}, WantErr: []string{"LEASE_TABLE"}},
		{Name: "lease TTL too short to renew", Set: map[string]string{"LEASE_TTL": "1s"}, WantErr: []string{"LEASE_TTL"}},
		{Name: "share above one", Set: map[string]string{"MAX_DISABLE_SHARE": "1.5"}, WantErr: []string{"MAX_DISABLE_SHARE"}},
		{Name: "no password source", Set: map[string]string{"ONCE_PASSWORD_VALUE": ""}, WantErr: []string{"ONCE_PASSWORD_"}},
	})
}
