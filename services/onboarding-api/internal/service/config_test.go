package service_test

import (
	"context"
	"strings"
	"testing"

	"github.com/simbridge/simbridge/libs/config"
	"github.com/simbridge/simbridge/services/onboarding-api/internal/service"
)

func TestConfig(t *testing.T) {
	t.Parallel()
	base := func(kv ...string) map[string]string {
		m := map[string]string{"SIM_TABLE": "t", "API_KEY_VALUE": "k"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"defaults", base(), ""},
		{"cache off", base("CACHE_TTL", "0s"), ""},
		{"cache of one second", base("CACHE_TTL", "1s"), ""},
		{"cache longer than a second", base("CACHE_TTL", "2s"), "CACHE_TTL"},
		{"two key sources", base("API_KEY_FILE", "/k"), "exactly one"},
		{"relative path", base("ONBOARDING_PATHS", "device-api"), "must start with /"},
		{"refresh too often", base("API_KEY_REFRESH", "10ms"), "API_KEY_REFRESH"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c service.Config
			err := config.LoadFrom(context.Background(), config.MapLookuper(tc.env), &c)
			if (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("got %v, want error %q", err, tc.wantErr)
			}
		})
	}
}
