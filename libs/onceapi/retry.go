package onceapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// retry runs op with exponential backoff and jitter, honouring a
// server-given Retry-After, until it succeeds, fails permanently, runs out of
// tries or time, or ctx ends.
func retry[T any](ctx context.Context, c *Client, endpoint string, op backoff.Operation[T]) (T, error) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 200 * time.Millisecond
	b.MaxInterval = 10 * time.Second
	return backoff.Retry(ctx, op,
		backoff.WithBackOff(b),
		backoff.WithMaxTries(c.cfg.MaxTries),
		backoff.WithMaxElapsedTime(c.cfg.MaxElapsed),
		backoff.WithNotify(func(err error, _ time.Duration) { c.cfg.Observer.Retry(endpoint, reasonOf(err)) }),
	)
}

// statusError is a non-2xx answer.
type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string { return fmt.Sprintf("status %d: %s", e.code, e.body) }

// errTokenRejected is a 401 on an API call: the cached token is dropped and
// the call retried once with a fresh one.
var errTokenRejected = errors.New("token rejected (401)")

// reasonOf names a retried error for the retry metric.
func reasonOf(err error) string {
	var se *statusError
	switch {
	case errors.Is(err, errTokenRejected):
		return "401"
	case errors.Is(err, ErrInvalidResponse):
		return "invalid_json"
	case errors.As(err, &se):
		return strconv.Itoa(se.code)
	default:
		return "transport"
	}
}

// classify turns a non-2xx response into a retryable or permanent error: 429
// and 5xx are retried (429 after Retry-After when given), the rest are final.
func classify(resp *http.Response, now time.Time) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	err := &statusError{code: resp.StatusCode, body: strings.TrimSpace(string(body))}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), now); ok {
			return fmt.Errorf("%w (%w)", err, &backoff.RetryAfterError{Duration: d})
		}
		return err
	case resp.StatusCode >= 500:
		return err
	default:
		return backoff.Permanent(err)
	}
}

// retryAfter parses a Retry-After value: delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil {
		return time.Duration(max(secs, 0)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// transportError makes a cancelled context final and other transport errors
// (resets, timeouts) retryable.
func transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return backoff.Permanent(context.Cause(ctx))
	}
	return err
}
