package service_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/config"
	"github.com/simbridge/simbridge/services/deactivator/internal/service"
)

// The deactivator refuses at start what cannot work, naming the variable,
// and every IoT operation it calls has a default quota share.
func TestConfig(t *testing.T) {
	t.Parallel()
	base := map[string]string{"DISABLE_QUEUE": "d.fifo", "SIM_TABLE": "t", "SUCCESS_TOPIC_ARN": "arn:s",
		"FAILURE_TOPIC_ARN": "arn:f", "LEASE_TABLE": "l"}
	tests := []struct {
		name    string
		set     map[string]string
		wantErr []string
	}{
		{name: "defaults"},
		{name: "missing queue", set: map[string]string{"DISABLE_QUEUE": ""}, wantErr: []string{"DISABLE_QUEUE"}},
		{name: "claim shorter than a second", set: map[string]string{"CLAIM_TTL": "500ms"}, wantErr: []string{"CLAIM_TTL"}},
		{name: "no workers", set: map[string]string{"WORKERS": "0"}, wantErr: []string{"WORKERS"}},
		{name: "every problem at once", set: map[string]string{"WORKERS": "0", "CLAIM_TTL": "0s", "SIM_TABLE": ""},
			wantErr: []string{"WORKERS", "CLAIM_TTL", "SIM_TABLE"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tc.set {
				if v == "" {
					delete(env, k)
				} else {
					env[k] = v
				}
			}
			var c service.Config
			err := config.LoadFrom(context.Background(), config.MapLookuper(env), &c)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if c.Workers != 4 || c.ClaimTTL != 2*time.Minute {
					t.Errorf("workers %d, claim %v", c.Workers, c.ClaimTTL)
				}
				for _, op := range service.IoTOperations {
					if c.IoTQuotas[op] <= 0 {
						t.Errorf("no default quota for %s, an operation the deactivator calls", op)
					}
				}
				return
			}
			for _, want := range tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("want an error naming %s, got %v", want, err)
				}
			}
		})
	}
}
