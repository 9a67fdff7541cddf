// Package service is the deactivator's composition root.
package service

import "github.com/simbridge/simbridge/libs/messaging"

// Config is the deactivator's configuration, read from the environment.
type Config struct {
	messaging.ConsumerSettings

	DisableQueue    string `env:"DISABLE_QUEUE, required" desc:"SQS FIFO queue of disable commands"`
	SimTable        string `env:"SIM_TABLE, required" desc:"DynamoDB table of SIM records"`
	SuccessTopicARN string `env:"SUCCESS_TOPIC_ARN, required" desc:"SNS topic of success notifications"`
	FailureTopicARN string `env:"FAILURE_TOPIC_ARN, required" desc:"SNS topic of failure notifications"`
	// Workers is how many SIMs are disabled in parallel.
	Workers int `env:"WORKERS, default=4" desc:"SIMs disabled in parallel"`

	// IoTRateLimits caps each IoT operation in requests per second (AWS's
	// default quota for UpdateCertificate is 10/s).
	IoTRateLimits map[string]float64 `env:"IOT_RATE_LIMITS, separator==, default=UpdateCertificate=10" desc:"client-side requests per second per IoT operation (AWS default quota)"`
}

// Validate rejects settings that cannot work.
func (c *Config) Validate() error {
	return c.ValidateWith(c.Workers, c.IoTRateLimits)
}
