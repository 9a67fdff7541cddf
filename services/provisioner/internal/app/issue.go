package app

import (
	"context"
	"fmt"

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
		Authority: p.Authority.Name(), IssuedAt: p.Clock.Now().UTC(), Command: w.id}
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
		if err := p.IoT.Activate(ctx, next.ID); err != nil {
			return step(StepActivate, err)
		}
	}
	w.rec.Switch(next)
	if next.DeviceKey {
		p.enrolled(w)
	}
	p.Logger.Info("certificate issued", "iccid", w.rec.ICCID, "certificate_id", next.ID, "authority", next.Authority)
	return nil
}

// attach attaches the certificate to the SIM's Thing (created if missing)
// and the policy to the certificate; both are no-ops when done already.
func (p *Provisioner) attach(ctx context.Context, w *work, arn string) error {
	thing := Thing{Name: w.rec.ThingName, IMSI: w.cmd.IMSI, MSISDN: w.cmd.MSISDN, Label: w.cmd.Label}
	if err := p.IoT.EnsureThing(ctx, thing); err != nil {
		return step(StepThing, err)
	}
	if err := p.IoT.AttachToThing(ctx, w.rec.ThingName, arn); err != nil {
		return step(StepAttachThing, err)
	}
	return step(StepAttachPolicy, p.IoT.AttachPolicy(ctx, arn))
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
		if err := p.retire(ctx, w.rec.ThingName, arn); err != nil {
			return err
		}
	}
	w.rec.Retired()
	return p.release(ctx, w, StepRecordRetired)
}

// retire makes a replaced certificate REVOKED, then detaches it.
func (p *Provisioner) retire(ctx context.Context, thing, arn string) error {
	if err := p.IoT.Revoke(ctx, arn); err != nil {
		return step(StepRetire, err)
	}
	if err := p.IoT.DetachFromThing(ctx, thing, arn); err != nil {
		return step(StepRetire, fmt.Errorf("detach replaced certificate: %w", err))
	}
	return nil
}
