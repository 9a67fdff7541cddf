package app

import (
	"context"
	"errors"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Clock is the time the use cases read and wait on: SystemClock in
// production. Unit tests pass a clock whose waits end at once, so every
// branch that waits (a wave of answers, a record still to come, a run in
// progress) is tested without taking real time.
type Clock interface {
	Now() time.Time
	// After fires once d has passed, as time.After does.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the real time.
type SystemClock struct{}

// Now is time.Now.
func (SystemClock) Now() time.Time { return time.Now() }

// After is time.After.
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// retry is backoff.Retry waiting on clock (backoff/v5 keeps its timer to
// itself): it calls op until op succeeds or returns a backoff.Permanent
// error, ctx ends, policy stops, or the next attempt would come later than
// limit after the first. It returns op's last result and error.
func retry[T any](ctx context.Context, clock Clock, policy backoff.BackOff, limit time.Duration, op backoff.Operation[T]) (T, error) {
	start := clock.Now()
	policy.Reset()
	for {
		res, err := op()
		if err == nil {
			return res, nil
		}
		var permanent *backoff.PermanentError
		if errors.As(err, &permanent) {
			return res, permanent.Unwrap()
		}
		if cause := context.Cause(ctx); cause != nil {
			return res, cause
		}
		next := policy.NextBackOff()
		if next == backoff.Stop || clock.Now().Sub(start)+next > limit {
			return res, err
		}
		select {
		case <-clock.After(next):
		case <-ctx.Done():
			return res, context.Cause(ctx)
		}
	}
}

// settleBackoff paces polls of a record a published command is about to
// write: quick at first (a create takes about a second), then every 2 s.
func settleBackoff() backoff.BackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = 200*time.Millisecond, 2*time.Second
	return b
}
