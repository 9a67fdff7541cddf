// Package service is the provisioner's composition root: its configuration
// (config.go), its metrics (metrics.go), and Run, which builds the clients,
// adapters, use cases and the queue port and serves until the context ends.
package service

import (
	"errors"
	"fmt"
	"time"

	"github.com/simbridge/simbridge/libs/iotca"
	"github.com/simbridge/simbridge/libs/messaging"
	"github.com/simbridge/simbridge/libs/simrec"
)

// Config is the provisioner's configuration, read from the environment.
type Config struct {
	messaging.ConsumerSettings

	CreateQueue string `env:"CREATE_QUEUE, required" desc:"SQS FIFO queue of create and reissue commands (certificate work)"`
	// UpdateQueue is the lane of IP moves: record writes that must not wait
	// behind the certificate work of other SIMs, on workers of their own.
	UpdateQueue       string `env:"UPDATE_QUEUE, required" desc:"SQS FIFO queue of IP moves, served by workers of their own"`
	SimTable          string `env:"SIM_TABLE, required" desc:"DynamoDB table of SIM records"`
	KMSKeyID          string `env:"KMS_KEY_ID, required" desc:"KMS key sealing device private keys"`
	IoTPolicyName     string `env:"IOT_POLICY_NAME, required" desc:"IoT policy attached to device certificates"`
	SuccessTopicARN   string `env:"SUCCESS_TOPIC_ARN, required" desc:"SNS topic of success notifications"`
	FailureTopicARN   string `env:"FAILURE_TOPIC_ARN, required" desc:"SNS topic of failure notifications"`
	RegistrationTopic string `env:"REGISTRATION_TOPIC, default=registration" desc:"MQTT topic announcing enabled SIMs"`
	// ThingGroup is the environment's thing group every SIM's Thing joins.
	ThingGroup string `env:"THING_GROUP" desc:"thing group every SIM's Thing joins (empty: none)"`
	// ThingType is the environment's thing type: a Thing without one may
	// carry only three attributes (managed-by, imsi, msisdn, label are four).
	ThingType string `env:"THING_TYPE" desc:"thing type of every SIM's Thing, with searchable imsi, msisdn, label (empty: none)"`
	// Workers is how many SIMs are provisioned in parallel.
	Workers int `env:"WORKERS, default=8" desc:"SIMs provisioned in parallel"`
	// UpdateWorkers is how many IP moves are carried out in parallel.
	UpdateWorkers int `env:"UPDATE_WORKERS, default=8" desc:"IP moves carried out in parallel (beside WORKERS)"`

	// CertAuthority chooses who signs device certificates: "own" (the
	// account's CA, key in KMS; nothing can be orphaned) or "aws"
	// (CreateKeysAndCertificate).
	CertAuthority string `env:"CERT_AUTHORITY, default=own" desc:"who signs device certificates: own (the account's CA, key in KMS) or aws (CreateKeysAndCertificate)"`
	// CAKeyID is the CA's KMS signing key and CAParameter the SSM parameter
	// holding the CA certificate (both required with CERT_AUTHORITY=own).
	CAKeyID     string `env:"CA_KMS_KEY_ID" desc:"KMS signing key of the IoT CA (required with CERT_AUTHORITY=own)"`
	CAParameter string `env:"CA_CERTIFICATE_PARAMETER" desc:"SSM parameter holding the IoT CA certificate (required with CERT_AUTHORITY=own)"`
	// DeviceKeyType is the key type of own-CA device certificates: rsa2048
	// (what Amazon issues) or ecp256.
	DeviceKeyType string `env:"DEVICE_KEY_TYPE, default=rsa2048" desc:"device key type with the own CA: rsa2048 (as Amazon issues) or ecp256"`
	// DeviceKeyPool is how many own-CA device keys are generated ahead, so a
	// burst of new SIMs does not wait for key generation (0: on demand).
	DeviceKeyPool int `env:"DEVICE_KEY_POOL, default=32" desc:"own-CA device keys generated ahead for bursts of new SIMs (0: each generated on demand)"`
	// CertValidity is the lifetime of own-CA device certificates (20 years,
	// like Amazon-issued ones).
	CertValidity time.Duration `env:"CERT_VALIDITY, default=175200h" desc:"lifetime of own-CA device certificates (20 years, like Amazon's)"`
	// KeyModeSetting is the environment's key mode (KEY_MODE), which
	// onboarding-api reads too: device or both need the own CA.
	simrec.KeyModeSetting
	// ClaimTTL is how long a crashed attempt keeps other commands off a SIM.
	ClaimTTL time.Duration `env:"CLAIM_TTL, default=2m" desc:"how long a crashed attempt keeps other commands off a SIM"`
}

// Validate rejects settings that cannot work, all at once.
func (c *Config) Validate() error {
	errs := []error{c.ValidateWith(c.Workers), c.KeyModeSetting.Validate()}
	if c.UpdateWorkers < 1 || c.UpdateWorkers > 256 {
		errs = append(errs, fmt.Errorf("UPDATE_WORKERS %d: want 1-256", c.UpdateWorkers))
	}
	if c.KeyMode != simrec.KeyModeServer && c.CertAuthority != simrec.AuthorityOwn {
		errs = append(errs, fmt.Errorf("KEY_MODE=%s needs CERT_AUTHORITY=own: enrolment certifies device keys with the account's CA", c.KeyMode))
	}
	switch c.CertAuthority {
	case simrec.AuthorityOwn:
		if c.CAKeyID == "" || c.CAParameter == "" {
			errs = append(errs, errors.New("CERT_AUTHORITY=own needs CA_KMS_KEY_ID and CA_CERTIFICATE_PARAMETER"))
		}
		if _, err := iotca.ParseKeyType(c.DeviceKeyType); err != nil {
			errs = append(errs, fmt.Errorf("DEVICE_KEY_TYPE: %w", err))
		}
		if c.DeviceKeyPool < 0 || c.DeviceKeyPool > 1024 {
			errs = append(errs, fmt.Errorf("DEVICE_KEY_POOL %d: 0 to 1024", c.DeviceKeyPool))
		}
		if c.CertValidity < 24*time.Hour {
			errs = append(errs, fmt.Errorf("CERT_VALIDITY %v: at least 24h", c.CertValidity))
		}
	case simrec.AuthorityAWS:
	default:
		errs = append(errs, fmt.Errorf("CERT_AUTHORITY %q: want own or aws", c.CertAuthority))
	}
	if c.ClaimTTL < time.Second {
		errs = append(errs, fmt.Errorf("CLAIM_TTL %v: at least 1s", c.ClaimTTL))
	}
	return errors.Join(errs...)
}

// IoTOperations are the IoT Core operations the provisioner calls: its
// share of the account's quota of each is paced.
var IoTOperations = []string{"DescribeThing", "CreateThing", "AddThingToThingGroup", "RegisterCertificate", "CreateKeysAndCertificate",
	"AttachThingPrincipal", "AttachPolicy", "UpdateCertificate", "DetachThingPrincipal", "DescribeCertificate"}
