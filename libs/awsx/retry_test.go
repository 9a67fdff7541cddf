package awsx_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/simbridge/simbridge/libs/awsx"
)

// throttlingIoT answers DescribeThing, refusing about rate of the calls
// with ThrottlingException, as IoT Core does at its quota.
func throttlingIoT(t *testing.T, rate float64) *httptest.Server {
	t.Helper()
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(4, 2))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		throttle := rng.Float64() < rate
		mu.Unlock()
		time.Sleep(20 * time.Millisecond) // a busy endpoint: many retries outstanding at once
		w.Header().Set("Content-Type", "application/json")
		if throttle {
			w.Header().Set("X-Amzn-ErrorType", "ThrottlingException")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"message":"Rate exceeded"}`)
			return
		}
		fmt.Fprint(w, `{"thingName":"t","attributes":{}}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// calls makes n DescribeThing calls with retryer and returns the failures.
func calls(t *testing.T, url string, retryer aws.Retryer, n int) []error {
	t.Helper()
	client := iot.New(iot.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(url), Retryer: retryer,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	var mu sync.Mutex
	var failures []error
	var wg sync.WaitGroup
	work := make(chan struct{})
	for range 32 { // workers calling at once, as the consumers do
		wg.Go(func() {
			for range work {
				if _, err := client.DescribeThing(context.Background(), &iot.DescribeThingInput{ThingName: aws.String("t")}); err != nil {
					mu.Lock()
					failures = append(failures, err)
					mu.Unlock()
				}
			}
		})
	}
	for range n {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	return failures
}

// Under sustained throttling the SDK's retry quota empties: every retry
// takes 5 tokens, given back only when that retry succeeds, while a call that
// succeeds at once adds 1. Throttled retries that are throttled again leak
// tokens until, minutes into a big batch, calls fail on their first throttle
// ("retry quota exceeded") — which is how SIMs ended in the DLQ. The
// services' retryer has no such quota: it keeps retrying throttles with
// backoff. The run is thousands of calls from 32 workers at 40 % throttling,
// the backoff shortened so it takes seconds instead of the minutes it takes
// at real delays.
func TestThrottlingNeverRunsTheRetryQuotaDry(t *testing.T) {
	t.Parallel()
	const n = 2000
	srv := throttlingIoT(t, 0.40)
	fast := func(r aws.Retryer) aws.Retryer { return retry.AddWithMaxBackoffDelay(r, time.Millisecond) }

	for _, mode := range []aws.RetryMode{aws.RetryModeStandard} { // adaptive also sleeps on its own client-side rate
		if failed := calls(t, srv.URL, awsx.NewRetryer(mode, 10, quickBackoff), n); len(failed) > 0 {
			t.Errorf("%s: %d of %d calls failed under throttling, first: %v", mode, len(failed), n, failed[0])
		}
	}
	// The same run with the SDK's default retryer (its retry quota on) fails
	// calls: this test would notice the quota coming back.
	failed := calls(t, srv.URL, fast(retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = 10 })), n)
	dry := 0
	for _, err := range failed {
		if strings.Contains(err.Error(), "retry quota exceeded") {
			dry++
		}
	}
	if dry == 0 {
		t.Fatalf("the SDK's default retryer did not run dry (%d other failures): the run is too short to prove anything", len(failed))
	}
	t.Logf("the SDK's default retryer failed %d of %d calls, %d of them on an empty retry quota", len(failed), n, dry)
}

// Other transient errors still stop at AWS_MAX_ATTEMPTS: patience is for
// being told to slow down, not for an endpoint that keeps failing.
func TestOtherErrorsStopAtMaxAttempts(t *testing.T) {
	t.Parallel()
	var attempts int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		attempts++
		mu.Unlock()
		w.Header().Set("X-Amzn-ErrorType", "InternalFailureException")
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	client := iot.New(iot.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Retryer:     awsx.NewRetryer(aws.RetryModeStandard, 4, quickBackoff),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	_, err := client.DescribeThing(context.Background(), &iot.DescribeThingInput{ThingName: aws.String("t")})
	if err == nil || attempts != 4 {
		t.Fatalf("500 on every attempt: %d attempts (%v), want 4 then the error", attempts, err)
	}
}

func quickBackoff(so *retry.StandardOptions) {
	so.Backoff = retry.NewExponentialJitterBackoff(time.Millisecond)
}
