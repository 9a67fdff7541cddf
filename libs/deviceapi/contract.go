// Package deviceapi is the contract between vpn-gateway and onboarding-api:
// the onboarding paths, the header carrying the device IP, the API-key
// header and where the shared key comes from. Both services embed Contract
// in their configuration, so the two sides read the same settings with the
// same defaults and the same validation.
package deviceapi

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/simbridge/simbridge/libs/secrets"
)

// Contract is the configuration vpn-gateway and onboarding-api must agree on.
type Contract struct {
	// APIKey is the key the gateway presents (Secrets Manager in AWS).
	APIKey secrets.Source `env:", prefix=API_KEY_" desc:"API key vpn-gateway presents to onboarding-api (exactly one source)"`
	// APIKeyRefresh is how often the key is re-read, so a rotation is picked
	// up without a restart.
	APIKeyRefresh time.Duration `env:"API_KEY_REFRESH, default=1m" desc:"how often the key versions are re-read (rotation without restart)"`
	APIKeyHeader  string        `env:"API_KEY_HEADER, default=x-api-key" desc:"header carrying the API key"`
	// DeviceIPHeader carries the device IP the gateway took from the TCP peer.
	DeviceIPHeader string `env:"DEVICE_IP_HEADER, default=onboarding-ip" desc:"header carrying the device IP (set by the gateway only)"`
	// Paths are the onboarding paths: the Device API path first, then aliases.
	Paths []string `env:"ONBOARDING_PATHS, default=/device-api/onboarding" desc:"comma-separated onboarding paths: the canonical one first, then aliases"`
}

// Validate rejects a contract that cannot work.
func (c Contract) Validate() error {
	errs := []error{c.APIKey.Validate("API_KEY_")}
	if len(c.Paths) == 0 {
		errs = append(errs, errors.New("ONBOARDING_PATHS: at least one path"))
	}
	for _, p := range c.Paths {
		if !strings.HasPrefix(p, "/") {
			errs = append(errs, fmt.Errorf("ONBOARDING_PATHS: %q must start with /", p))
		}
	}
	if c.APIKeyRefresh < time.Second {
		errs = append(errs, errors.New("API_KEY_REFRESH must be at least 1s"))
	}
	if c.APIKeyHeader == "" || c.DeviceIPHeader == "" {
		errs = append(errs, errors.New("API_KEY_HEADER and DEVICE_IP_HEADER must not be empty"))
	}
	return errors.Join(errs...)
}
