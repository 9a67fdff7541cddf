// Package awsx loads the AWS SDK configuration the same way in every service.
//
// Everything standard comes from the SDK itself: region, credentials,
// AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> (LocalStack, moto),
// AWS_RETRY_MODE (standard or adaptive) and AWS_MAX_ATTEMPTS. This package only
// insists on a region and sizes the HTTP connection pool for concurrent workers.
package awsx

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
)

// MaxIdleConnsPerHost lets many workers share keep-alive connections to one
// AWS endpoint instead of opening a new TLS connection per call.
const MaxIdleConnsPerHost = 64

// Load returns the SDK configuration from the environment plus opts.
func Load(ctx context.Context, opts ...func(*config.LoadOptions) error) (aws.Config, error) {
	client := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConnsPerHost = MaxIdleConnsPerHost
	})
	opts = append([]func(*config.LoadOptions) error{config.WithHTTPClient(client)}, opts...)
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, errors.New("load AWS config: no region: set AWS_REGION")
	}
	if cfg.Retryer != nil {
		// Our retryer counts attempts itself (WithRetry); the SDK's
		// AWS_MAX_ATTEMPTS wrapper would cap throttles at the same number.
		cfg.RetryMaxAttempts = 0
	}
	return cfg, nil
}
