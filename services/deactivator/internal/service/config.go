// Package service is the deactivator's composition root.
package service

import (
	"errors"
	"fmt"
	"time"

	"github.com/simbridge/simbridge/libs/awsx"
)

// Config is the deactivator's configuration, read from the environment.
type Config struct {
	OpsAddr string `env:"OPS_ADDR, default=:9090"`
	// ShutdownTimeout bounds how long in-flight commands may finish after SIGTERM.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT, default=25s"`

	DisableQueue    string `env:"DISABLE_QUEUE, required"`
	SimTable        string `env:"SIM_TABLE, required"`
	SuccessTopicARN string `env:"SUCCESS_TOPIC_ARN, required"`
	FailureTopicARN string `env:"FAILURE_TOPIC_ARN, required"`
	// Workers is how many SIMs are disabled in parallel.
	Workers int `env:"WORKERS, default=4"`

	Retry awsx.RetrySettings
	// IoTRateLimits caps each IoT operation in requests per second (AWS's
	// default quota for UpdateCertificate is 10/s).
	IoTRateLimits map[string]float64 `env:"IOT_RATE_LIMITS, separator==, default=UpdateCertificate=10"`
}

// Validate rejects settings that cannot work.
func (c *Config) Validate() error {
	var errs []error
	if c.Workers < 1 || c.Workers > 256 {
		errs = append(errs, fmt.Errorf("WORKERS %d: want 1-256", c.Workers))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("SHUTDOWN_TIMEOUT must be positive"))
	}
	if err := c.Retry.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
