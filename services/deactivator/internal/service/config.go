// Package service is the deactivator's composition root: its
// configuration (config.go), its metrics (metrics.go), and Run, which builds
// the clients, adapters, use cases and the queue port and serves until the
// context ends.
package service

import (
	"errors"
	"fmt"
	"time"

	"github.com/simbridge/simbridge/libs/messaging"
)

// Config is the deactivator's configuration, read from the environment.
type Config struct {
	messaging.ConsumerSettings

	DisableQueue    string `env:"DISABLE_QUEUE, required" desc:"SQS FIFO queue of disable commands"`
	SimTable        string `env:"SIM_TABLE, required" desc:"DynamoDB table of SIM records"`
	SuccessTopicARN string `env:"SUCCESS_TOPIC_ARN, required" desc:"SNS topic of success notifications"`
	FailureTopicARN string `env:"FAILURE_TOPIC_ARN, required" desc:"SNS topic of failure notifications"`
	// Workers is how many SIMs are disabled in parallel.
	Workers int `env:"WORKERS, default=4" desc:"SIMs disabled in parallel"`
	// ClaimTTL is how long a crashed attempt keeps other commands off a SIM.
	ClaimTTL time.Duration `env:"CLAIM_TTL, default=2m" desc:"how long a crashed attempt keeps other commands off a SIM"`
}

// Validate rejects settings that cannot work, all at once.
func (c *Config) Validate() error {
	var errs []error
	errs = append(errs, c.ValidateWith(c.Workers))
	if c.ClaimTTL < time.Second {
		errs = append(errs, fmt.Errorf("CLAIM_TTL %v: at least 1s", c.ClaimTTL))
	}
	return errors.Join(errs...)
}

// IoTOperations are the IoT Core operations the deactivator calls: its
// share of the account's quota of each is paced.
var IoTOperations = []string{"UpdateCertificate", "DescribeCertificate"}
