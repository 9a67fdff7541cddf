package awsx

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/time/rate"
)

// CallObserver learns about every AWS call, for metrics.
type CallObserver interface {
	// Call reports one operation, retries included.
	Call(service, operation string, took time.Duration, err error)
	// AttemptFailed reports one failed attempt; throttled says whether AWS
	// asked to slow down. A retry follows unless attempts are exhausted.
	AttemptFailed(service, operation string, throttled bool)
}

// WithRetry sets the SDK's retry mode and attempts per call, without the
// SDK's retry quota: that token bucket leaks under sustained throttling (a
// retry's tokens come back only if that retry succeeds) and, minutes into a
// big batch, fails every throttled call on its first attempt ("retry quota
// exceeded"). Our callers already pace each operation to their share of the
// account's quota, so a throttle is retried with backoff like any other
// transient error — and more patiently: ThrottleAttemptsFactor times
// maxAttempts, since being told to slow down is no reason to give up.
func WithRetry(mode aws.RetryMode, maxAttempts int) func(*config.LoadOptions) error {
	return func(o *config.LoadOptions) error {
		o.RetryMode = mode
		o.Retryer = func() aws.Retryer { return NewRetryer(mode, maxAttempts) }
		return nil
	}
}

// ThrottleAttemptsFactor multiplies the attempts a throttled call gets.
const ThrottleAttemptsFactor = 3

// NewRetryer is the SDK's standard or adaptive retryer with no retry quota,
// maxAttempts attempts for transient errors and ThrottleAttemptsFactor times
// as many for throttling; opts adjust the standard options further (tests
// shorten the backoff).
func NewRetryer(mode aws.RetryMode, maxAttempts int, opts ...func(*retry.StandardOptions)) aws.Retryer {
	standard := func(so *retry.StandardOptions) {
		so.MaxAttempts = maxAttempts * ThrottleAttemptsFactor
		so.RateLimiter = ratelimit.None
		for _, o := range opts {
			o(so)
		}
	}
	var r aws.RetryerV2
	if mode == aws.RetryModeAdaptive {
		r = retry.NewAdaptiveMode(func(ao *retry.AdaptiveModeOptions) {
			ao.StandardOptions = append(ao.StandardOptions, standard)
		})
	} else {
		r = retry.NewStandard(standard)
	}
	return patientWithThrottles{RetryerV2: r, max: maxAttempts}
}

// patientWithThrottles stops retrying other errors after max attempts and
// lets throttles go on to the retryer's own (larger) maximum.
type patientWithThrottles struct {
	aws.RetryerV2
	max int
}

var throttles = retry.IsErrorThrottles(retry.DefaultThrottles)

// RetryDelay refuses another attempt once a non-throttling error has had
// max attempts.
func (r patientWithThrottles) RetryDelay(attempt int, err error) (time.Duration, error) {
	if attempt >= r.max && throttles.IsErrorThrottle(err) != aws.TrueTernary {
		return 0, &retry.MaxAttemptsError{Attempt: attempt, Err: err}
	}
	return r.RetryerV2.RetryDelay(attempt, err)
}

// Limiter paces calls by operation name.
type Limiter interface {
	Wait(ctx context.Context, operation string) error
}

// WithLimiter makes every attempt of every call, retries included, wait for
// l first, so a client stays within its quota instead of relying on
// throttling.
func WithLimiter(l Limiter) func(*config.LoadOptions) error {
	return withAPIOption(LimiterAPIOption(l))
}

// LimiterAPIOption is WithLimiter for an already loaded configuration
// (append it to aws.Config.APIOptions).
func LimiterAPIOption(l Limiter) func(*middleware.Stack) error {
	mw := middleware.FinalizeMiddlewareFunc("simbridgeRateLimit", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
		if err := l.Wait(ctx, awsmiddleware.GetOperationName(ctx)); err != nil {
			return middleware.FinalizeOutput{}, middleware.Metadata{}, err
		}
		return next.HandleFinalize(ctx, in)
	})
	return func(s *middleware.Stack) error { return s.Finalize.Insert(mw, "Retry", middleware.After) }
}

// WithRateLimits limits the rate of each named operation (e.g.
// "CreateKeysAndCertificate": 10) in this process only.
func WithRateLimits(perSecond map[string]float64) func(*config.LoadOptions) error {
	limiters := staticLimits{}
	for op, rps := range perSecond {
		limiters[op] = rate.NewLimiter(rate.Limit(rps), max(1, int(rps)))
	}
	return WithLimiter(limiters)
}

type staticLimits map[string]*rate.Limiter

func (s staticLimits) Wait(ctx context.Context, op string) error {
	if l, ok := s[op]; ok {
		return l.Wait(ctx)
	}
	return nil
}

// WithObserver reports every call and failed attempt to obs.
func WithObserver(obs CallObserver) func(*config.LoadOptions) error {
	throttle := retry.IsErrorThrottles(retry.DefaultThrottles)
	call := middleware.InitializeMiddlewareFunc("simbridgeObserveCall", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		start := time.Now()
		out, md, err := next.HandleInitialize(ctx, in)
		obs.Call(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx), time.Since(start), err)
		return out, md, err
	})
	attempt := middleware.FinalizeMiddlewareFunc("simbridgeObserveAttempt", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
		out, md, err := next.HandleFinalize(ctx, in)
		if err != nil {
			obs.AttemptFailed(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx), throttle.IsErrorThrottle(err) == aws.TrueTernary)
		}
		return out, md, err
	})
	return withAPIOption(func(s *middleware.Stack) error {
		if err := s.Initialize.Add(call, middleware.Before); err != nil {
			return err
		}
		return s.Finalize.Insert(attempt, "Retry", middleware.After)
	})
}

func withAPIOption(fn func(*middleware.Stack) error) func(*config.LoadOptions) error {
	return func(o *config.LoadOptions) error {
		o.APIOptions = append(o.APIOptions, fn)
		return nil
	}
}
