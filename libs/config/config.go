// Package config loads a service's typed configuration from the environment,
// validates it, and renders it for logging with secrets masked.
//
// Every service declares one struct with `env` tags (github.com/sethvargo/go-envconfig)
// and calls Load once in run(); nothing else in the code reads the environment.
package config

import "github.com/sethvargo/go-envconfig"

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
