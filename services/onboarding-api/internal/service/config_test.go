package service_test

import (
	"testing"

	"github.com/simbridge/simbridge/libs/config/configtest"
	"github.com/simbridge/simbridge/services/onboarding-api/internal/service"
)

func TestConfig(t *testing.T) {
	t.Parallel()
	base := map[string]string{"SIM_TABLE": "t", "API_KEY_VALUE": "k"}
	configtest.Run(t, base, []configtest.Case[service.Config]{
		{Name: "defaults"},
		{Name: "cache off", Set: configtest.Set("CACHE_TTL", "0s")},
		{Name: "cache of one second", Set: configtest.Set("CACHE_TTL", "1s")},
		{Name: "cache longer than a second", Set: configtest.Set("CACHE_TTL", "2s"), WantErr: []string{"CACHE_TTL"}},
		{Name: "two key sources", Set: configtest.Set("API_KEY_FILE", "/k"), WantErr: []string{"exactly one"}},
		{Name: "relative path", Set: configtest.Set("ONBOARDING_PATHS", "device-api"), WantErr: []string{"must start with /"}},
		{Name: "refresh too often", Set: configtest.Set("API_KEY_REFRESH", "10ms"), WantErr: []string{"API_KEY_REFRESH"}},
		{Name: "key mode device needs the provisioner's queue", Set: configtest.Set("KEY_MODE", "device"), WantErr: []string{"needs CREATE_QUEUE"}},
		{Name: "key mode both with the queue", Set: configtest.Set("KEY_MODE", "both", "CREATE_QUEUE", "q.fifo")},
		{Name: "unknown key mode", Set: configtest.Set("KEY_MODE", "hsm"), WantErr: []string{"KEY_MODE"}},
		{Name: "daily cap above the history kept", Set: configtest.Set("ENROL_DAILY_CAP", "50"), WantErr: []string{"daily cap"}},
		{Name: "every problem at once", Set: configtest.Set("CACHE_TTL", "2s", "API_KEY_REFRESH", "10ms", "SIM_TABLE", ""),
			WantErr: []string{"CACHE_TTL", "API_KEY_REFRESH", "SIM_TABLE"}},
	})
}
