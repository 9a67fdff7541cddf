// Package service is onboarding-api's composition root.
package service

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/simbridge/simbridge/libs/secrets"
	"github.com/simbridge/simbridge/services/onboarding-api/internal/app"
)

// Config is onboarding-api's configuration, read from the environment.
type Config struct {
	HTTPAddr        string        `env:"HTTP_ADDR, default=:8080"`
	OpsAddr         string        `env:"OPS_ADDR, default=:9090"`
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT, default=25s"`
	// GCPercent is the Go runtime's GOGC: the live heap is a few MB, so
	// collecting at 400 % growth costs little memory and saves the CPU a
	// busy onboarding burst would otherwise spend in the garbage collector.
	GCPercent int `env:"GOGC, default=400"`

	SimTable string `env:"SIM_TABLE, required"`
	// KMSKeyID, when set, pins the key private keys must be encrypted under.
	KMSKeyID string `env:"KMS_KEY_ID"`
	// APIKey is the key vpn-gateway presents (Secrets Manager in AWS).
	APIKey       secrets.Source `env:", prefix=API_KEY_"`
	APIKeyHeader string         `env:"API_KEY_HEADER, default=x-api-key"`
	// APIKeyRefresh is how often the key is re-read, so a rotation is picked
	// up without a restart (an unknown key also triggers a re-read).
	APIKeyRefresh time.Duration `env:"API_KEY_REFRESH, default=1m"`
	// DeviceIPHeader is set by the gateway from the tunnel peer address.
	DeviceIPHeader string `env:"DEVICE_IP_HEADER, default=onboarding-ip"`
	// Paths are the onboarding paths: the Device API path first, then aliases.
	Paths []string `env:"ONBOARDING_PATHS, default=/device-api/onboarding"`
	// IoTEndpoint is the IoT Core data endpoint host; looked up once at start when empty.
	IoTEndpoint string `env:"IOT_ENDPOINT"`
	// RootCAFile replaces the built-in copy of Amazon Root CA 1.
	RootCAFile string `env:"ROOT_CA_FILE"`
	// CacheTTL is how long an IP's answer is reused (0: never, at most 1s):
	// a disabled SIM stops getting credentials at most this long after its
	// record change is visible to the IP lookup.
	CacheTTL time.Duration `env:"CACHE_TTL, default=500ms"`
	// CacheSize bounds the answers kept in memory.
	CacheSize int `env:"CACHE_SIZE, default=10000"`
}

// Validate rejects settings that cannot work.
func (c *Config) Validate() error {
	var errs []error
	if err := c.APIKey.Validate("API_KEY_"); err != nil {
		errs = append(errs, err)
	}
	for _, p := range c.Paths {
		if !strings.HasPrefix(p, "/") {
			errs = append(errs, fmt.Errorf("ONBOARDING_PATHS: %q must start with /", p))
		}
	}
	if len(c.Paths) == 0 {
		errs = append(errs, errors.New("ONBOARDING_PATHS: at least one path"))
	}
	if c.CacheTTL < 0 || c.CacheTTL > app.MaxCacheTTL {
		errs = append(errs, fmt.Errorf("CACHE_TTL %v: want 0 (off) up to %v", c.CacheTTL, app.MaxCacheTTL))
	}
	if c.CacheSize < 1 {
		errs = append(errs, errors.New("CACHE_SIZE must be at least 1"))
	}
	if c.APIKeyRefresh < time.Second {
		errs = append(errs, errors.New("API_KEY_REFRESH must be at least 1s"))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("SHUTDOWN_TIMEOUT must be positive"))
	}
	return errors.Join(errs...)
}
