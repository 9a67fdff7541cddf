package app

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/simbridge/simbridge/libs/iotcore"
	"github.com/simbridge/simbridge/libs/simrec"
)

// issueFresh mints a certificate into Next, then issues it.
func (p *Provisioner) issueFresh(ctx context.Context, w *work) error {
	if err := p.mint(ctx, w); err != nil {
		return err
	}
	return p.issueNext(ctx, w)
}

// mint creates a key and certificate and records them (key sealed) in Next
// before IoT Core is asked to do anything with them.
func (p *Provisioner) mint(ctx context.Context, w *work) error {
	m, err := p.Authority.Mint(ctx, w.rec.ICCID)
	if err != nil {
		return step(StepMint, err)
	}
	sealed, err := p.Sealer.Seal(ctx, w.rec.ICCID, []byte(m.KeyPEM))
	if err != nil {
		return step(StepSeal, err)
	}
	w.rec.Next = &simrec.Credentials{ID: m.ID, ARN: m.ARN, PEM: m.CertPEM, KeyCiphertext: sealed,
		Authority: p.Authority.Name(), IssuedAt: p.now().UTC(), Command: w.id}
	return p.save(ctx, w, StepRecordNext)
}

// issueNext registers the certificate in Next, attaches it to the Thing with
// the policy, makes it ACTIVE and switches the record to it (in memory; the
// caller's next write stores it). The replaced certificate goes to Retiring.
func (p *Provisioner) issueNext(ctx context.Context, w *work) error {
	next := *w.rec.Next
	arn, active, err := p.Authority.Register(ctx, next)
	if err != nil {
		return step(StepRegister, err)
	}
	next.ARN = arn
	if err := p.attach(ctx, w, arn); err != nil {
		return err
	}
	if !active {
		if err := p.IoT.SetStatus(ctx, next.ID, iotcore.StatusActive); err != nil {
			return step(StepActivate, err)
		}
	}
	if old := w.rec.Cert; old != nil && old.ID != next.ID {
		if err := p.retireLater(ctx, w, *old); err != nil {
			return err
		}
	}
	w.rec.Cert, w.rec.Next = &next, nil
	p.Logger.Info("certificate issued", "iccid", w.rec.ICCID, "certificate_id", next.ID, "authority", next.Authority)
	return nil
}

// attach attaches the certificate to the SIM's Thing (created if missing)
// and the policy to the certificate; both are no-ops when done already.
func (p *Provisioner) attach(ctx context.Context, w *work, arn string) error {
	spec := iotcore.ThingSpec{Name: w.rec.ThingName, Group: p.ThingGroup, Type: p.ThingType,
		Attributes: map[string]string{"imsi": w.cmd.IMSI, "msisdn": w.cmd.MSISDN, "label": w.cmd.Label}}
	if _, err := p.IoT.EnsureThing(ctx, spec); err != nil {
		return step(StepThing, err)
	}
	if err := p.IoT.AttachToThing(ctx, w.rec.ThingName, arn); err != nil {
		return step(StepAttachThing, err)
	}
	return step(StepAttachPolicy, p.IoT.AttachPolicy(ctx, p.Policy, arn))
}

// retireLater queues a replaced certificate for revocation. An own-CA
// certificate that never reached IoT Core has nothing to revoke.
func (p *Provisioner) retireLater(ctx context.Context, w *work, old simrec.Credentials) error {
	arn := old.ARN
	if arn == "" {
		var err error
		if arn, err = p.IoT.ARN(ctx, old.ID); errors.Is(err, iotcore.ErrCertificateNotFound) {
			return nil
		} else if err != nil {
			return step(StepRetire, err)
		}
	}
	if !slices.Contains(w.rec.Retiring, arn) {
		w.rec.Retiring = append(w.rec.Retiring, arn)
	}
	return nil
}

// settle stores the record as it now is and, when certificates were
// replaced, revokes and detaches them before the last write: the record
// points to the new certificate before the old one stops working.
func (p *Provisioner) settle(ctx context.Context, w *work, stepName string) error {
	if len(w.rec.Retiring) == 0 {
		return p.release(ctx, w, stepName)
	}
	if err := p.save(ctx, w, stepName); err != nil {
		return err
	}
	for _, arn := range w.rec.Retiring {
		if err := p.revoke(ctx, w.rec.ThingName, arn); err != nil {
			return err
		}
	}
	w.rec.Retiring = nil
	return p.release(ctx, w, StepRecordRetired)
}

// revoke makes a replaced certificate REVOKED, then detaches it.
func (p *Provisioner) revoke(ctx context.Context, thing, arn string) error {
	err := p.IoT.SetStatus(ctx, iotcore.CertificateID(arn), iotcore.StatusRevoked)
	if err != nil && !errors.Is(err, iotcore.ErrCertificateNotFound) {
		return step(StepRetire, err)
	}
	if err := p.IoT.DetachFromThing(ctx, thing, arn); err != nil {
		return step(StepRetire, fmt.Errorf("detach replaced certificate: %w", err))
	}
	return nil
}
