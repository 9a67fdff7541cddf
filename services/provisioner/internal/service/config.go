// Package service is the provisioner's composition root.
package service

import (
	"errors"
	"fmt"
	"time"

	"github.com/simbridge/simbridge/libs/awsx"
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

	Retry awsx.RetrySettings
	// IoTRateLimits caps each IoT operation, in requests per second; the
	// default is AWS IoT's default quota for each operation the provisioner calls.
	IoTRateLimits map[string]float64 `env:"IOT_RATE_LIMITS, separator==, default=CreateKeysAndCertificate=10,AttachPolicy=15,CreateThing=100,AttachThingPrincipal=100,UpdateCertificate=10,DeleteCertificate=10"`
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
	for op, rps := range c.IoTRateLimits {
		if rps <= 0 {
			errs = append(errs, fmt.Errorf("IOT_RATE_LIMITS %s=%v: must be positive", op, rps))
		}
	}
	return errors.Join(errs...)
}
