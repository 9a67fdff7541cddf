package deviceapi_test

import (
	"context"
	"strings"
	"testing"

	"github.com/simbridge/simbridge/libs/config"
	"github.com/simbridge/simbridge/libs/deviceapi"
)

type cfg struct{ deviceapi.Contract }

func (c *cfg) Validate() error { return c.Contract.Validate() }

func TestContract(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"defaults with a key", map[string]string{"API_KEY_VALUE": "k"}, ""},
		{"no key", map[string]string{}, "API_KEY_SECRET_ID"},
		{"two key sources", map[string]string{"API_KEY_VALUE": "k", "API_KEY_FILE": "/k"}, "exactly one"},
		{"relative path", map[string]string{"API_KEY_VALUE": "k", "ONBOARDING_PATHS": "device-api"}, "must start with /"},
		{"refresh too often", map[string]string{"API_KEY_VALUE": "k", "API_KEY_REFRESH": "10ms"}, "API_KEY_REFRESH"},
		{"relative enrolment path", map[string]string{"API_KEY_VALUE": "k", "CERTIFICATE_PATHS": "certificate"}, "must start with /"},
		{"one path for both", map[string]string{"API_KEY_VALUE": "k", "CERTIFICATE_PATHS": "/device-api/onboarding"}, "given twice"},
		{"no enrolment path", map[string]string{"API_KEY_VALUE": "k", "CERTIFICATE_PATHS": ""}, "CERTIFICATE_PATHS"},
		{"CSR limit too small", map[string]string{"API_KEY_VALUE": "k", "CSR_MAX_BYTES": "100"}, "CSR_MAX_BYTES"},
		{"enrolment wait too long", map[string]string{"API_KEY_VALUE": "k", "ENROL_WAIT": "5m"}, "ENROL_WAIT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c cfg
			err := config.LoadFrom(context.Background(), config.MapLookuper(tc.env), &c)
			if (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("got %v, want error %q", err, tc.wantErr)
			}
			if err == nil && (c.Paths[0] != "/device-api/onboarding" || c.CertificatePaths[0] != "/device-api/certificate" ||
				c.APIKeyHeader != "x-api-key" || c.DeviceIPHeader != "onboarding-ip") {
				t.Fatalf("defaults lost: %+v", c.Contract)
			}
		})
	}
}
