package iotcore

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/iot"
)

// throttleOnly retries only throttling. CreateKeysAndCertificate is not
// idempotent: after a timeout, reset or 5xx the certificate may exist, so
// such a failure is returned to the caller instead of silently minting
// another; what the lost answer created stays INACTIVE and unattached.
type throttleOnly struct{ aws.RetryerV2 }

var throttles = retry.IsErrorThrottles(retry.DefaultThrottles)

// IsErrorRetryable is true for throttling errors only.
func (r throttleOnly) IsErrorRetryable(err error) bool {
	return throttles.IsErrorThrottle(err) == aws.TrueTernary && r.RetryerV2.IsErrorRetryable(err)
}

func retryThrottlesOnly(o *iot.Options) {
	if v2, ok := o.Retryer.(aws.RetryerV2); ok {
		o.Retryer = throttleOnly{v2}
	}
}
