// Package service is the provisioner's composition root.
package service

import "github.com/simbridge/simbridge/libs/messaging"

// Config is the provisioner's configuration, read from the environment.
type Config struct {
	messaging.ConsumerSettings

	CreateQueue       string `env:"CREATE_QUEUE, required" desc:"SQS FIFO queue of create/update commands"`
	SimTable          string `env:"SIM_TABLE, required" desc:"DynamoDB table of SIM records"`
	KMSKeyID          string `env:"KMS_KEY_ID, required" desc:"KMS key sealing device private keys"`
	IoTPolicyName     string `env:"IOT_POLICY_NAME, required" desc:"IoT policy attached to device certificates"`
	SuccessTopicARN   string `env:"SUCCESS_TOPIC_ARN, required" desc:"SNS topic of success notifications"`
	FailureTopicARN   string `env:"FAILURE_TOPIC_ARN, required" desc:"SNS topic of failure notifications"`
	RegistrationTopic string `env:"REGISTRATION_TOPIC, default=registration" desc:"MQTT topic announcing enabled SIMs"`
	// Workers is how many SIMs are provisioned in parallel.
	Workers int `env:"WORKERS, default=8" desc:"SIMs provisioned in parallel"`

	// IoTRateLimits caps each IoT operation, in requests per second; the
	// default is AWS IoT's default quota for each operation the provisioner calls.
	IoTRateLimits map[string]float64 `env:"IOT_RATE_LIMITS, separator==, default=CreateKeysAndCertificate=10,AttachPolicy=15,CreateThing=100,AttachThingPrincipal=100,UpdateCertificate=10,DeleteCertificate=10" desc:"client-side requests per second per IoT operation (AWS default quotas; raise with yours)"`
}

// Validate rejects settings that cannot work.
func (c *Config) Validate() error {
	return c.ValidateWith(c.Workers, c.IoTRateLimits)
}
