// Package config loads a service's typed configuration from the environment,
// validates it, and renders it for logging with secrets masked.
//
// Every service declares one struct with `env` tags (github.com/sethvargo/go-envconfig)
// and calls Load once in run(); nothing else in the code reads the environment.
package config

import (
	"context"
	"fmt"

	"github.com/sethvargo/go-envconfig"
)

// Lookuper finds the value of a configuration key; tests pass a map instead of
// the process environment.
type Lookuper = envconfig.Lookuper

// MapLookuper returns a Lookuper backed by a map, for tests.
func MapLookuper(m map[string]string) Lookuper { return envconfig.MapLookuper(m) }

// Validator is implemented by configuration structs that check their values
// after loading, so a service refuses to start with a wrong setting instead of
// failing later.
type Validator interface {
	Validate() error
}

// Load fills cfg (a pointer to an env-tagged struct) from the process
// environment and validates it.
func Load(ctx context.Context, cfg any) error {
	return LoadFrom(ctx, envconfig.OsLookuper(), cfg)
}

// LoadFrom is Load with an explicit source of values.
func LoadFrom(ctx context.Context, l Lookuper, cfg any) error {
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: cfg, Lookuper: l}); err != nil {
		return fmt.Errorf("load config: %s%w", envNameOf(cfg, err), err)
	}
	if v, ok := cfg.(Validator); ok {
		if err := v.Validate(); err != nil {
			return fmt.Errorf("invalid config: %w", err)
		}
	}
	return nil
}
