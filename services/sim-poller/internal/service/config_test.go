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
		"CREATE_QUEUE": "c", "UPDATE_QUEUE": "u", "DISABLE_QUEUE": "d", "SYNC_QUEUE": "r", "FAILURE_TOPIC_ARN": "arn:aws:sns:us-east-1:1:f",
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
		{Name: "receiver's default body limit fits the edge", Set: map[string]string{"STREAM_ADDR": ":8081", "STREAM_AUTH_VALUE": "u:p"},
			Check: func(t *testing.T, c service.Config) {
				if c.StreamMaxBytes > service.EdgeMaxBody || c.StreamMaxBytes < 1<<20 {
					t.Errorf("STREAM_MAX_BYTES default %d: want 1 MiB up to what the edge passes (%d)", c.StreamMaxBytes, service.EdgeMaxBody)
				}
			}},
		{Name: "receiver takes bodies the edge refuses", Set: map[string]string{"STREAM_ADDR": ":8081", "STREAM_AUTH_VALUE": "u:p", "STREAM_MAX_BYTES": "16777216"},
			WantErr: []string{"STREAM_MAX_BYTES 16777216", "10000000"}},
		{Name: "receiver at the edge's limit", Set: map[string]string{"STREAM_ADDR": ":8081", "STREAM_AUTH_VALUE": "u:p", "STREAM_MAX_BYTES": "10000000"}},
	})
}
