// Package service is vpn-gateway's composition root.
package service

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/simbridge/simbridge/libs/secrets"
)

// Config is vpn-gateway's configuration, read from the environment.
type Config struct {
	// ListenAddr is the device-facing address. Until tunnel management
	// lands it is configured directly (local mode).
	ListenAddr      string        `env:"LISTEN_ADDR, default=:8080"`
	OpsAddr         string        `env:"OPS_ADDR, default=:9090"`
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT, default=25s"`

	// UpstreamURL is onboarding-api's base URL.
	UpstreamURL    string         `env:"UPSTREAM_URL, required"`
	APIKey         secrets.Source `env:", prefix=API_KEY_"`
	APIKeyHeader   string         `env:"API_KEY_HEADER, default=x-api-key"`
	DeviceIPHeader string         `env:"DEVICE_IP_HEADER, default=onboarding-ip"`
	Paths          []string       `env:"ONBOARDING_PATHS, default=/device-api/onboarding"`
}

// Validate rejects settings that cannot work.
func (c *Config) Validate() error {
	var errs []error
	if err := c.APIKey.Validate("API_KEY_"); err != nil {
		errs = append(errs, err)
	}
	if u, err := url.Parse(c.UpstreamURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("UPSTREAM_URL %q: want http(s)://host:port", c.UpstreamURL))
	}
	for _, p := range c.Paths {
		if !strings.HasPrefix(p, "/") {
			errs = append(errs, fmt.Errorf("ONBOARDING_PATHS: %q must start with /", p))
		}
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("SHUTDOWN_TIMEOUT must be positive"))
	}
	return errors.Join(errs...)
}
