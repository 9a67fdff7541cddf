// Package service is onboarding-api's composition root.
package service

import (
	"errors"
	"fmt"
	"time"

	"github.com/simbridge/simbridge/libs/deviceapi"
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
	// Contract is what vpn-gateway must match: paths, headers, API key (an
	// unknown key also triggers a re-read of the key).
	deviceapi.Contract
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
	errs := []error{c.Contract.Validate()}
	if c.CacheTTL < 0 || c.CacheTTL > app.MaxCacheTTL {
		errs = append(errs, fmt.Errorf("CACHE_TTL %v: want 0 (off) up to %v", c.CacheTTL, app.MaxCacheTTL))
	}
	if c.CacheSize < 1 {
		errs = append(errs, errors.New("CACHE_SIZE must be at least 1"))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("SHUTDOWN_TIMEOUT must be positive"))
	}
	return errors.Join(errs...)
}
