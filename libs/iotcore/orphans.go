package iotcore

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// throttleOnly retries only throttling. CreateKeysAndCertificate is not
// idempotent: after a timeout, reset or 5xx the certificate may exist, so
// such a failure is returned to the caller (which recorded its intent and
// sweeps orphans before trying again) instead of silently minting another.
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

// SweepOrphans retires certificates created between from and to that are
// INACTIVE, attached to no thing and carry no policy: what a
// CreateKeysAndCertificate call left behind when its caller died or lost the
// answer. Certificates younger than minAge are left alone, since another
// attempt may be about to attach them. It returns how many it retired.
func (c *Client) SweepOrphans(ctx context.Context, from, to time.Time, minAge time.Duration) (int, error) {
	retired := 0
	p := iot.NewListCertificatesPaginator(c.api, &iot.ListCertificatesInput{AscendingOrder: false, PageSize: aws.Int32(250)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return retired, fmt.Errorf("list certificates: %w", err)
		}
		older := false
		for _, cert := range page.Certificates {
			created := aws.ToTime(cert.CreationDate)
			older = older || created.Before(from)
			if created.Before(from) || created.After(to) || time.Since(created) < minAge || cert.Status != types.CertificateStatusInactive {
				continue
			}
			orphan, err := c.unattached(ctx, aws.ToString(cert.CertificateArn))
			if err != nil {
				return retired, err
			}
			if !orphan {
				continue
			}
			if err := c.Retire(ctx, "", aws.ToString(cert.CertificateArn)); err != nil {
				return retired, err
			}
			retired++
		}
		if older && descending(page.Certificates) {
			break
		}
	}
	return retired, nil
}

func (c *Client) unattached(ctx context.Context, arn string) (bool, error) {
	things, err := c.api.ListPrincipalThings(ctx, &iot.ListPrincipalThingsInput{Principal: aws.String(arn), MaxResults: aws.Int32(1)})
	if err != nil {
		return false, fmt.Errorf("things of %s: %w", arn, err)
	}
	if len(things.Things) > 0 {
		return false, nil
	}
	pols, err := c.api.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: aws.String(arn), PageSize: aws.Int32(1)})
	if err != nil {
		return false, fmt.Errorf("policies of %s: %w", arn, err)
	}
	return len(pols.Policies) == 0, nil
}

// descending reports whether a page is ordered newest first, so older pages
// can be skipped (AWS honours AscendingOrder=false; emulators may not).
func descending(certs []types.Certificate) bool {
	return len(certs) > 1 && !aws.ToTime(certs[0].CreationDate).Before(aws.ToTime(certs[len(certs)-1].CreationDate))
}
