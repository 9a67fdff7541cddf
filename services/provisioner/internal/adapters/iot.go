package adapters

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/simbridge/simbridge/libs/iotcore"
	"github.com/simbridge/simbridge/services/provisioner/internal/app"
)

// IoTCore is the part of libs/iotcore the provisioner's use cases call (the
// in-memory iotfake in unit tests, held to the same contract).
type IoTCore interface {
	EnsureThing(ctx context.Context, spec iotcore.ThingSpec) (iotcore.Thing, error)
	AttachToThing(ctx context.Context, thing, certARN string) error
	AttachPolicy(ctx context.Context, policy, certARN string) error
	SetStatus(ctx context.Context, certID string, status types.CertificateStatus) error
	DetachFromThing(ctx context.Context, thing, certARN string) error
}

// IoT is IoT Core in the use cases' terms (app.IoT): every SIM's Thing
// joins the environment's thing group with its thing type, every
// certificate gets the device policy.
type IoT struct {
	core                     IoTCore
	policy, group, thingType string
}

// NewIoT returns the adapter; the policy is required, the group and the
// thing type are optional ("").
func NewIoT(core IoTCore, policy, group, thingType string) (*IoT, error) {
	if core == nil || policy == "" {
		return nil, errors.New("iot: the client and the device policy are required")
	}
	return &IoT{core: core, policy: policy, group: group, thingType: thingType}, nil
}

// EnsureThing creates the SIM's Thing, marked managed-by=simbridge and
// searchable by IMSI, MSISDN and label, unless it exists.
func (i *IoT) EnsureThing(ctx context.Context, t app.Thing) error {
	_, err := i.core.EnsureThing(ctx, iotcore.ThingSpec{Name: t.Name, Group: i.group, Type: i.thingType,
		Attributes: map[string]string{"imsi": t.IMSI, "msisdn": t.MSISDN, "label": t.Label}})
	return err
}

// AttachToThing attaches the certificate to the Thing.
func (i *IoT) AttachToThing(ctx context.Context, thing, certARN string) error {
	return i.core.AttachToThing(ctx, thing, certARN)
}

// AttachPolicy attaches the device policy to the certificate.
func (i *IoT) AttachPolicy(ctx context.Context, certARN string) error {
	return i.core.AttachPolicy(ctx, i.policy, certARN)
}

// Activate sets the certificate ACTIVE; a REVOKED or unknown one is
// app.ErrCannotActivate.
func (i *IoT) Activate(ctx context.Context, certID string) error {
	err := i.core.SetStatus(ctx, certID, iotcore.StatusActive)
	if errors.Is(err, iotcore.ErrCertificateRevoked) || errors.Is(err, iotcore.ErrCertificateNotFound) {
		return fmt.Errorf("%w: %w", app.ErrCannotActivate, err)
	}
	return err
}

// Revoke sets the certificate REVOKED; one IoT Core does not know is gone
// already.
func (i *IoT) Revoke(ctx context.Context, certARN string) error {
	err := i.core.SetStatus(ctx, iotcore.CertificateID(certARN), iotcore.StatusRevoked)
	if errors.Is(err, iotcore.ErrCertificateNotFound) {
		return nil
	}
	return err
}

// DetachFromThing detaches the certificate from the Thing.
func (i *IoT) DetachFromThing(ctx context.Context, thing, certARN string) error {
	return i.core.DetachFromThing(ctx, thing, certARN)
}
