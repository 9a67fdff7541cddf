// Package service is the provisioner's composition root.
package service

import "github.com/simbridge/simbridge/libs/messaging"

// Config is the provisioner's configuration, read from the environment.
type Config struct {
	messaging.ConsumerSettings

	CreateQueue       string `env:"CREATE_QUEUE, required"`
	SimTable          string `env:"SIM_TABLE, required"`
	KMSKeyID          string `env:"KMS_KEY_ID, required"`
	IoTPolicyName     string `env:"IOT_POLICY_NAME, required"`
	SuccessTopicARN   string `env:"SUCCESS_TOPIC_ARN, required"`
	FailureTopicARN   string `env:"FAILURE_TOPIC_ARN, required"`
	RegistrationTopic string `env:"REGISTRATION_TOPIC, default=registration"`
	// Workers is how many SIMs are provisioned in parallel.
	Workers int `env:"WORKERS, default=8"`

	// IoTRateLimits caps each IoT operation, in requests per second; the
	// default is AWS IoT's default quota for each operation the provisioner calls.
	IoTRateLimits map[string]float64 `env:"IOT_RATE_LIMITS, separator==, default=CreateKeysAndCertificate=10,AttachPolicy=15,CreateThing=100,AttachThingPrincipal=100,UpdateCertificate=10,DeleteCertificate=10"`
}

// Validate rejects settings that cannot work.
func (c *Config) Validate() error {
	return c.ValidateWith(c.Workers, c.IoTRateLimits)
}
