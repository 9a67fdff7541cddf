package awsx

import (
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// RetrySettings are the retry knobs of services that call AWS in volume.
//
// The default is the standard mode: every transient error, throttling
// included, is retried with exponential backoff and jitter. The services
// already pace each IoT operation to their share of the account's quota
// (package quota); the adaptive mode's client-side rate would throttle every
// operation of a client after throttles on one of them, and it slowed a
// fleet under steady throttling to a crawl.
type RetrySettings struct {
	RetryMode   string `env:"AWS_RETRY_MODE, default=standard" desc:"AWS SDK retry mode: standard (backoff; the services pace themselves) or adaptive"`
	MaxAttempts int    `env:"AWS_MAX_ATTEMPTS, default=10" desc:"attempts per AWS call, retries included"`
}

// Validate rejects unknown modes and non-positive attempts.
func (s RetrySettings) Validate() error {
	var errs []error
	if m := aws.RetryMode(s.RetryMode); m != aws.RetryModeStandard && m != aws.RetryModeAdaptive {
		errs = append(errs, fmt.Errorf("AWS_RETRY_MODE %q: want standard or adaptive", s.RetryMode))
	}
	if s.MaxAttempts < 1 {
		errs = append(errs, errors.New("AWS_MAX_ATTEMPTS must be at least 1"))
	}
	return errors.Join(errs...)
}

// Option applies the settings when loading the SDK configuration.
func (s RetrySettings) Option() func(*config.LoadOptions) error {
	return WithRetry(aws.RetryMode(s.RetryMode), s.MaxAttempts)
}
