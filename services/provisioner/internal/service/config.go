// Package service is the provisioner's composition root.
package service

import (
	"errors"
	"fmt"
	"time"
)

// Config is the provisioner's configuration, read from the environment.
type Config struct {
	OpsAddr string `env:"OPS_ADDR, default=:9090"`
	// ShutdownTimeout bounds how long in-flight commands may finish after SIGTERM.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT, default=25s"`

	CreateQueue       string `env:"CREATE_QUEUE, required"`
	SimTable          string `env:"SIM_TABLE, required"`
	KMSKeyID          string `env:"KMS_KEY_ID, required"`
	IoTPolicyName     string `env:"IOT_POLICY_NAME, required"`
	SuccessTopicARN   string `env:"SUCCESS_TOPIC_ARN, required"`
	FailureTopicARN   string `env:"FAILURE_TOPIC_ARN, required"`
	RegistrationTopic string `env:"REGISTRATION_TOPIC, default=registration"`
	// Workers is how many SIMs are provisioned in parallel.
	Workers int `env:"WORKERS, default=8"`
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
	return errors.Join(errs...)
}
