package opscli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go"

	"github.com/simbridge/simbridge/libs/awsx"
)

// An operator's command must fail fast when AWS cannot be reached: the
// services' settings (ten attempts of every call, with backoff up to 20 s)
// made `status` take two minutes to say nothing against an unreachable
// endpoint. simbridge keeps the SDK's standard retryer for what AWS answers
// (throttling, 5xx: retried as the services do) and changes two things:
//
//   - the HTTP client's dialer gives up on a connection after dialTimeout
//     (and a TLS handshake after tlsTimeout);
//   - a call that could not connect at all (refused, unreachable, DNS, dial
//     timeout) is tried connectAttempts times, not ten.
//
// The error then names the endpoint as the aws command line does: "Could
// not connect to the endpoint URL".
const (
	dialTimeout     = 3 * time.Second
	tlsTimeout      = 5 * time.Second
	connectAttempts = 2
	callAttempts    = 10
)

// clientOptions are the SDK settings of every simbridge client.
func clientOptions(limits map[string]float64) []func(*awsconfig.LoadOptions) error {
	client := awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = dialTimeout }).
		WithTransportOptions(func(t *http.Transport) {
			t.TLSHandshakeTimeout = tlsTimeout
			t.MaxIdleConnsPerHost = awsx.MaxIdleConnsPerHost
		})
	return []func(*awsconfig.LoadOptions) error{
		awsconfig.WithHTTPClient(client),
		func(o *awsconfig.LoadOptions) error {
			o.RetryMode = aws.RetryModeStandard
			o.Retryer = func() aws.Retryer {
				return failFast{RetryerV2: awsx.NewRetryer(aws.RetryModeStandard, callAttempts).(aws.RetryerV2)}
			}
			return nil
		},
		awsx.WithRateLimits(limits),
	}
}

// loadConfig is awsx.Load with simbridge's client.
func loadConfig(ctx context.Context, opts ...func(*awsconfig.LoadOptions) error) (aws.Config, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, usageError("no AWS region: set AWS_REGION, pass --region, or put AWS_REGION in the environment's file")
	}
	cfg.RetryMaxAttempts = 0
	return cfg, nil
}

// failFast stops retrying a call that could not connect after
// connectAttempts attempts; everything else is the wrapped retryer's.
type failFast struct{ aws.RetryerV2 }

// RetryDelay refuses another attempt at an endpoint that was not reached.
func (r failFast) RetryDelay(attempt int, err error) (time.Duration, error) {
	if attempt >= connectAttempts && cannotConnect(err) {
		return 0, &retry.MaxAttemptsError{Attempt: attempt, Err: err}
	}
	return r.RetryerV2.RetryDelay(attempt, err)
}

// cannotConnect reports a call that never reached its endpoint: the
// connection was refused or timed out, the host is unreachable or its name
// does not resolve.
func cannotConnect(err error) bool {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// connectFailure says, for an error of a call that never reached AWS, which
// endpoint could not be reached and why.
func connectFailure(err error) (string, bool) {
	if !cannotConnect(err) {
		return "", false
	}
	endpoint := "?"
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			endpoint = u.Scheme + "://" + u.Host + "/"
		}
	}
	call := ""
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		call = oe.Service() + " " + oe.Operation() + ": "
	}
	cause := err
	var op *net.OpError
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns):
		cause = dns
	case errors.As(err, &op):
		cause = op
	}
	return fmt.Sprintf("Could not connect to the endpoint URL: %q (%s%v)", endpoint, call, cause), true
}
