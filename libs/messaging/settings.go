package messaging

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/simbridge/simbridge/libs/awsx"
	"github.com/simbridge/simbridge/libs/metrics"
)

// ConsumerSettings are the settings every queue-consuming service shares;
// services embed it in their Config next to their own WORKERS and
// IOT_RATE_LIMITS, whose defaults differ.
type ConsumerSettings struct {
	OpsAddr string `env:"OPS_ADDR, default=:9090" desc:"/metrics, /healthz and /readyz (never on the public port)"`
	// ShutdownTimeout bounds how long in-flight commands may finish after SIGTERM.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT, default=25s" desc:"time in-flight work may take after SIGTERM (ECS stops after 30 s)"`
	Retry           awsx.RetrySettings
}

// ValidateWith checks the shared settings together with the service's
// worker count and per-operation rate limits.
func (s ConsumerSettings) ValidateWith(workers int, rateLimits map[string]float64) error {
	var errs []error
	if workers < 1 || workers > 256 {
		errs = append(errs, fmt.Errorf("WORKERS %d: want 1-256", workers))
	}
	if s.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("SHUTDOWN_TIMEOUT must be positive"))
	}
	if err := s.Retry.Validate(); err != nil {
		errs = append(errs, err)
	}
	for op, rps := range rateLimits {
		if rps <= 0 {
			errs = append(errs, fmt.Errorf("IOT_RATE_LIMITS %s=%v: must be positive", op, rps))
		}
	}
	return errors.Join(errs...)
}

// LoadAWS loads the SDK configuration with the retry settings, the
// per-operation rate limits and AWS call metrics registered on reg.
func (s ConsumerSettings) LoadAWS(ctx context.Context, rateLimits map[string]float64, reg prometheus.Registerer) (aws.Config, error) {
	return awsx.Load(ctx, s.Retry.Option(), awsx.WithRateLimits(rateLimits), awsx.WithObserver(metrics.NewAWSCalls(reg)))
}
