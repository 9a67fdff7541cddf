// Package service is onboarding-api's composition root.
package service

import (
	"errors"
	"fmt"
	"time"

	"github.com/simbridge/simbridge/libs/deviceapi"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/services/onboarding-api/internal/app"
)

// Config is onboarding-api's configuration, read from the environment.
type Config struct {
	HTTPAddr        string        `env:"HTTP_ADDR, default=:8080" desc:"the API, reached only through vpn-gateway"`
	OpsAddr         string        `env:"OPS_ADDR, default=:9090" desc:"/metrics, /healthz and /readyz (never on the public port)"`
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT, default=25s" desc:"time in-flight work may take after SIGTERM (ECS stops after 30 s)"`
	// GCPercent is the Go runtime's GOGC: the live heap is a few MB, so
	// collecting at 400 % growth costs little memory and saves the CPU a
	// busy onboarding burst would otherwise spend in the garbage collector.
	GCPercent int `env:"GOGC, default=400" desc:"Go GC target percentage (small heap: saves CPU under load)"`

	SimTable string `env:"SIM_TABLE, required" desc:"DynamoDB table of SIM records"`
	// KMSKeyID, when set, pins the key private keys must be encrypted under.
	KMSKeyID string `env:"KMS_KEY_ID" desc:"pins the KMS key private keys must be sealed under (empty: any)"`
	// Contract is what vpn-gateway must match: paths, headers, API key (an
	// unknown key also triggers a re-read of the key).
	deviceapi.Contract
	// IoTEndpoint is the IoT Core data endpoint host; looked up once at start when empty.
	IoTEndpoint string `env:"IOT_ENDPOINT" desc:"IoT Core endpoint devices are told (empty: DescribeEndpoint iot:Data-ATS once at start)"`
	// RootCAFile replaces the built-in copy of Amazon Root CA 1.
	RootCAFile string `env:"ROOT_CA_FILE" desc:"root CA served in CSV answers (empty: built-in Amazon Root CA 1)"`
	// FetchRecordInterval is the least time between two writes of one SIM's
	// last credentials fetch (they happen off the request path).
	FetchRecordInterval time.Duration `env:"FETCH_RECORD_INTERVAL, default=1m" desc:"least time between two writes of a SIM's last credentials fetch"`
	// CacheTTL is how long an IP's answer is reused (0: never, at most 1s):
	// a disabled SIM stops getting credentials at most this long after its
	// record change is visible to the IP lookup.
	CacheTTL time.Duration `env:"CACHE_TTL, default=500ms" desc:"reuse of an IP's answer, at most 1s (0: off)"`
	// CacheSize bounds the answers kept in memory.
	CacheSize int `env:"CACHE_SIZE, default=10000" desc:"answers kept in the cache"`

	// KeyModeSetting is the environment's key mode (KEY_MODE), as the
	// provisioner reads it: which SIMs may enrol.
	simrec.KeyModeSetting
	// CreateQueue is the provisioner's queue enrol commands go to (empty:
	// enrolment is off).
	CreateQueue string `env:"CREATE_QUEUE" desc:"SQS FIFO queue of the provisioner, for enrol commands (required with KEY_MODE device or both; empty: enrolment off)"`
	// EnrolInterval and EnrolDailyCap limit how often one SIM enrols.
	EnrolInterval time.Duration `env:"ENROL_INTERVAL, default=10m" desc:"least time between two enrolments of one SIM (429 before)"`
	EnrolDailyCap int           `env:"ENROL_DAILY_CAP, default=5" desc:"most enrolments of one SIM in 24 hours (429 beyond; at most 20)"`
}

// Validate rejects settings that cannot work.
func (c *Config) Validate() error {
	errs := []error{c.Contract.Validate(), c.KeyModeSetting.Validate(), c.enrolLimits().Validate()}
	if c.KeyMode != simrec.KeyModeServer && c.CreateQueue == "" {
		errs = append(errs, fmt.Errorf("KEY_MODE=%s needs CREATE_QUEUE (enrol commands go to the provisioner)", c.KeyMode))
	}
	if c.CacheTTL < 0 || c.CacheTTL > app.MaxCacheTTL {
		errs = append(errs, fmt.Errorf("CACHE_TTL %v: want 0 (off) up to %v", c.CacheTTL, app.MaxCacheTTL))
	}
	if c.CacheSize < 1 {
		errs = append(errs, errors.New("CACHE_SIZE must be at least 1"))
	}
	if c.FetchRecordInterval < time.Second {
		errs = append(errs, fmt.Errorf("FETCH_RECORD_INTERVAL %v: at least 1s", c.FetchRecordInterval))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("SHUTDOWN_TIMEOUT must be positive"))
	}
	return errors.Join(errs...)
}

// enrolLimits are ENROL_INTERVAL and ENROL_DAILY_CAP.
func (c *Config) enrolLimits() simrec.EnrolLimits {
	return simrec.EnrolLimits{Interval: c.EnrolInterval, DailyCap: c.EnrolDailyCap}
}
