package service_test

import (
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/config/configtest"
	"github.com/simbridge/simbridge/services/deactivator/internal/service"
)

// The deactivator refuses at start what cannot work, naming the variable,
// and every IoT operation it calls has a default quota share.
func TestConfig(t *testing.T) {
	t.Parallel()
	base := map[string]string{"DISABLE_QUEUE": "d.fifo", "SIM_TABLE": "t", "SUCCESS_TOPIC_ARN": "arn:s",
		"FAILURE_TOPIC_ARN": "arn:f", "LEASE_TABLE": "l"}
	configtest.Run(t, base, []configtest.Case[service.Config]{
		{Name: "defaults", Check: func(t *testing.T, c service.Config) {
			if c.Workers != 4 || c.ClaimTTL != 2*time.Minute {
				t.Errorf("workers %d, claim %v", c.Workers, c.ClaimTTL)
			}
			for _, op := range service.IoTOperations {
				if c.IoTQuotas[op] <= 0 {
					t.Errorf("no default quota for %s, an operation the deactivator calls", op)
				}
			}
		}},
		{Name: "missing queue", Set: map[string]string{"DISABLE_QUEUE": ""}, WantErr: []string{"DISABLE_QUEUE"}},
		{Name: "claim shorter than a second", Set: map[string]string{"CLAIM_TTL": "500ms"}, WantErr: []string{"CLAIM_TTL"}},
		{Name: "no workers", Set: map[string]string{"WORKERS": "0"}, WantErr: []string{"WORKERS"}},
		{Name: "every problem at once", Set: map[string]string{"WORKERS": "0", "CLAIM_TTL": "0s", "SIM_TABLE": ""},
			WantErr: []string{"WORKERS", "CLAIM_TTL", "SIM_TABLE"}},
	})
}
