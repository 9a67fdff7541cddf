// Package adapters gives the deactivator's use cases IoT Core in their own
// terms, so they import no SDK.
package adapters

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/simbridge/simbridge/libs/iotcore"
)

// IoTCore is the part of libs/iotcore the deactivator calls (the in-memory
// iotfake in unit tests, held to the same contract).
type IoTCore interface {
	SetStatus(ctx context.Context, certID string, status types.CertificateStatus) error
	ARN(ctx context.Context, certID string) (string, error)
}

// Certificates changes the status of a SIM's certificates
// (app.Certificates).
type Certificates struct {
	IoTCore
}

// Deactivate sets the certificate INACTIVE. One that IoT Core does not know
// (an own-CA certificate never registered) or has REVOKED grants nothing
// already: success.
func (c Certificates) Deactivate(ctx context.Context, certID string) error {
	err := c.SetStatus(ctx, certID, iotcore.StatusInactive)
	if errors.Is(err, iotcore.ErrCertificateNotFound) || errors.Is(err, iotcore.ErrCertificateRevoked) {
		return nil
	}
	return err
}

// Revoke sets the certificate REVOKED; known is false, without an error,
// when IoT Core does not know it.
func (c Certificates) Revoke(ctx context.Context, certID string) (known bool, err error) {
	err = c.SetStatus(ctx, certID, iotcore.StatusRevoked)
	if errors.Is(err, iotcore.ErrCertificateNotFound) {
		return false, nil
	}
	return err == nil, err
}
