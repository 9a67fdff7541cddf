// Package app holds the provisioner's use case: make a SIM onboardable.
//
// How an interrupted attempt is found and finished (every step is
// idempotent, so any message may be redelivered after a crash at any point):
//
//  1. The Thing is created (or found) first. Things this system creates carry
//     the attribute managed-by=simbridge.
//  2. The intent is recorded: an inactive record without credentials, with
//     the time a certificate is requested (CertRequestedAt).
//  3. The certificate is created INACTIVE (the SDK retries only throttling:
//     CreateKeysAndCertificate is not idempotent) and attached to the Thing
//     right away, so it is findable through the Thing's principals; then the
//     policy is attached and the certificate activated.
//  4. The key is sealed with KMS and the record written once, active, with
//     the certificate. (A record with credentials that is inactive is a SIM
//     disabled since; enabling it again reactivates that certificate.)
//  5. A redelivery that finds a record without credentials recovers: it
//     claims the record (a conditional write), retires every certificate on
//     the managed Thing (attached, but its key was never stored) and every
//     certificate created since CertRequestedAt that is INACTIVE, attached to
//     nothing and without a policy (created by a call whose answer was lost),
//     then mints again. CertRequestedAt stays at the first attempt, so each
//     recovery covers all earlier ones.
//
// Retiring sets a certificate INACTIVE first and detaches it from the Thing
// last, so a crash while retiring leaves it findable for the next attempt.
//
// So no certificate outlives an interrupted attempt.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/iotcore"
	"github.com/simbridge/simbridge/libs/simstore"
)

// Store reads and conditionally writes SIM records.
type Store interface {
	Get(ctx context.Context, iccid string) (simstore.Record, error)
	Create(ctx context.Context, r simstore.Record) (simstore.Record, error)
	Update(ctx context.Context, r simstore.Record) (simstore.Record, error)
}

// IoT performs the IoT Core steps.
type IoT interface {
	EnsureThing(ctx context.Context, name string) (iotcore.Thing, error)
	Managed(ctx context.Context, name string) (bool, error)
	CreateCertificate(ctx context.Context) (iotcore.Certificate, error)
	AttachToThing(ctx context.Context, thing, certARN string) error
	Attach(ctx context.Context, thing, policy, certARN string) error
	AttachPolicy(ctx context.Context, policy, certARN string) error
	SetActive(ctx context.Context, certID string, active bool) error
	ThingPrincipals(ctx context.Context, thing string) ([]string, error)
	Retire(ctx context.Context, thing, certARN string) error
	SweepOrphans(ctx context.Context, from, to time.Time, minAge time.Duration) (int, error)
}

// Recovery timing. A recovering attempt waits until the last interrupted
// request is OrphanSettle old (so a certificate it created exists), considers
// certificates from ClockSkew before it, and leaves certificates younger
// than AttachGrace to the attempts (of other SIMs) about to attach them.
const (
	OrphanSettle = 5 * time.Second
	ClockSkew    = 5 * time.Second
	AttachGrace  = 2 * time.Second
)

// Sealer encrypts a private key for one SIM.
type Sealer interface {
	Seal(ctx context.Context, iccid string, plaintext []byte) ([]byte, error)
}

// Announcer tells the world a SIM changed: SNS success topic and the MQTT
// registration topic.
type Announcer interface {
	Announce(ctx context.Context, n events.Notification) error
}

// Provisioner handles create and update commands.
type Provisioner struct {
	store     Store
	iot       IoT
	sealer    Sealer
	announcer Announcer
	policy    string
	logger    *slog.Logger
	now       func() time.Time
}

// New returns a provisioner attaching policy to every certificate.
func New(store Store, iot IoT, sealer Sealer, announcer Announcer, policy string, logger *slog.Logger) *Provisioner {
	return &Provisioner{store: store, iot: iot, sealer: sealer, announcer: announcer, policy: policy, logger: logger, now: time.Now}
}

// Handle brings the SIM to the state cmd describes.
func (p *Provisioner) Handle(ctx context.Context, cmd events.SimCommand) error {
	if cmd.Kind == events.KindDisable {
		return fmt.Errorf("%w: provisioner got a disable command", events.ErrInvalidCommand)
	}
	rec, err := p.store.Get(ctx, cmd.ICCID)
	if errors.Is(err, simstore.ErrNotFound) {
		return p.create(ctx, cmd)
	}
	if err != nil {
		return step(StepLoad, err)
	}
	if cmd.BaseVersion > 0 && cmd.BaseVersion < rec.Version {
		p.logger.Info("stale command ignored", "iccid", cmd.ICCID, "base_version", cmd.BaseVersion, "record_version", rec.Version)
		return nil
	}
	switch {
	case !rec.HasCredentials():
		return p.recover(ctx, cmd, rec)
	case !rec.Active:
		return p.activate(ctx, cmd, rec)
	case rec.IP != cmd.IP:
		return p.changeIP(ctx, cmd, rec)
	}
	return p.tidy(ctx, rec)
}

// tidy handles a command for a SIM that is already as asked (a duplicate, or
// a redelivery after success): it retires any other certificate left on the
// SIM's managed Thing by an attempt that lost to this record, so the SIM
// keeps exactly one.
func (p *Provisioner) tidy(ctx context.Context, rec simstore.Record) error {
	managed, err := p.iot.Managed(ctx, rec.ThingName)
	if err != nil || !managed {
		return step(StepThing, err)
	}
	return p.retireStrays(ctx, rec.ThingName, rec.CertificateARN)
}

// create records the intent for a SIM without a record, then mints. Only the
// attempt whose conditional write recorded the intent retires anything, so
// two deliveries of one command can never destroy each other's certificate.
func (p *Provisioner) create(ctx context.Context, cmd events.SimCommand) error {
	thing := cmd.ICCID
	th, err := p.iot.EnsureThing(ctx, thing)
	if err != nil {
		return step(StepThing, err)
	}
	rec, err := p.store.Create(ctx, simstore.Record{
		ICCID: cmd.ICCID, IP: cmd.IP, Status: cmd.Status, ThingName: thing, CertRequestedAt: p.now().UTC(),
	})
	if err != nil {
		return step(StepRecordIntent, err)
	}
	if th.Managed && !th.Created {
		if err := p.retireStrays(ctx, thing, ""); err != nil {
			return err
		}
	}
	return p.mint(ctx, cmd, rec)
}

// recover cleans up after an attempt that recorded its intent but not its
// certificate, then mints again. It first claims the record with a
// conditional write: if the earlier attempt is in fact still running and
// finishes first, the claim fails and nothing is retired.
func (p *Provisioner) recover(ctx context.Context, cmd events.SimCommand, rec simstore.Record) error {
	requested := rec.CertRequestedAt
	// The last attempt minted right after its write to this record (the
	// intent or a claim): wait until that is OrphanSettle old too.
	last := rec.UpdatedAt
	if requested.After(last) {
		last = requested
	}
	if wait := OrphanSettle - p.now().Sub(last); wait > 0 {
		select {
		case <-ctx.Done():
			return step(StepOrphans, ctx.Err())
		case <-time.After(wait):
		}
	}
	// The claim bumps the version and keeps CertRequestedAt: the sweep below
	// and any later recovery cover every attempt since the first intent.
	claimed, err := p.store.Update(ctx, rec)
	if err != nil {
		return step(StepRecordIntent, err)
	}
	th, err := p.iot.EnsureThing(ctx, claimed.ThingName)
	if err != nil {
		return step(StepThing, err)
	}
	if th.Managed {
		if err := p.retireStrays(ctx, claimed.ThingName, ""); err != nil {
			return err
		}
	}
	n, err := p.iot.SweepOrphans(ctx, requested.Add(-ClockSkew), p.now().Add(ClockSkew), AttachGrace)
	if err != nil {
		return step(StepOrphans, err)
	}
	if n > 0 {
		p.logger.Warn("retired certificates an interrupted attempt created", "iccid", rec.ICCID, "count", n)
	}
	return p.mint(ctx, cmd, claimed)
}

// mint creates the certificate, attaches it to the Thing at once (so it is
// findable), attaches the policy, activates it, then records it with the
// sealed key in one write. A crash before that write leaves only
// certificates attached to the Thing, which recovery retires.
func (p *Provisioner) mint(ctx context.Context, cmd events.SimCommand, rec simstore.Record) error {
	cert, err := p.iot.CreateCertificate(ctx)
	if err != nil {
		return step(StepCertificate, err)
	}
	if err := p.iot.AttachToThing(ctx, rec.ThingName, cert.ARN); err != nil {
		return step(StepAttachThing, err)
	}
	if err := p.iot.AttachPolicy(ctx, p.policy, cert.ARN); err != nil {
		return step(StepAttach, err)
	}
	if err := p.iot.SetActive(ctx, cert.ID, true); err != nil {
		return step(StepActivate, err)
	}
	sealed, err := p.sealer.Seal(ctx, cmd.ICCID, []byte(cert.PrivateKey))
	if err != nil {
		return step(StepSeal, err)
	}
	rec.CertificateID, rec.CertificateARN, rec.CertificatePEM, rec.PrivateKeyCiphertext = cert.ID, cert.ARN, cert.PEM, sealed
	rec.Active, rec.IP, rec.Status = true, cmd.IP, cmd.Status
	if _, err := p.store.Update(ctx, rec); err != nil {
		if errors.Is(err, simstore.ErrConflict) {
			// The record changed since the intent; ours is a stray. Retry against it.
			err = errors.Join(err, p.iot.Retire(ctx, rec.ThingName, cert.ARN))
		}
		return step(StepRecordActive, err)
	}
	p.announce(ctx, cmd, events.MessageEnabled)
	return nil
}

// activate turns an inactive record active again: a pending record left by
// an interrupted create, or a SIM enabled again after a disable. The SIM's
// existing certificate is reactivated, not rotated: the device may still
// hold it, and no certificate is orphaned.
func (p *Provisioner) activate(ctx context.Context, cmd events.SimCommand, rec simstore.Record) error {
	if !rec.HasCredentials() {
		return step(StepLoad, fmt.Errorf("record of %s has no credentials", rec.ICCID))
	}
	return p.finish(ctx, cmd, rec, true)
}

// finish attaches and activates the record's certificate, then marks the
// record active; sweep also retires any other certificate on a managed thing.
func (p *Provisioner) finish(ctx context.Context, cmd events.SimCommand, rec simstore.Record, sweep bool) error {
	attach := func() error { return p.iot.AttachPolicy(ctx, p.policy, rec.CertificateARN) }
	if sweep {
		th, err := p.iot.EnsureThing(ctx, rec.ThingName)
		if err != nil {
			return step(StepThing, err)
		}
		if th.Managed {
			if err := p.retireStrays(ctx, rec.ThingName, rec.CertificateARN); err != nil {
				return err
			}
		}
		attach = func() error { return p.iot.Attach(ctx, rec.ThingName, p.policy, rec.CertificateARN) }
	}
	if err := attach(); err != nil {
		return step(StepAttach, err)
	}
	if err := p.iot.SetActive(ctx, rec.CertificateID, true); err != nil {
		return step(StepActivate, err)
	}
	rec.Active, rec.IP, rec.Status = true, cmd.IP, cmd.Status
	if _, err := p.store.Update(ctx, rec); err != nil {
		return step(StepRecordActive, err)
	}
	p.announce(ctx, cmd, events.MessageEnabled)
	return nil
}

// changeIP moves the SIM to its new address; its credentials stay.
func (p *Provisioner) changeIP(ctx context.Context, cmd events.SimCommand, rec simstore.Record) error {
	rec.IP, rec.Status = cmd.IP, cmd.Status
	if _, err := p.store.Update(ctx, rec); err != nil {
		return step(StepRecordIP, err)
	}
	p.announce(ctx, cmd, events.MessageUpdated)
	return nil
}

// retireStrays retires certificates on a managed thing other than keep.
func (p *Provisioner) retireStrays(ctx context.Context, thing, keep string) error {
	principals, err := p.iot.ThingPrincipals(ctx, thing)
	if err != nil {
		return step(StepStrays, err)
	}
	for _, arn := range principals {
		if arn == keep {
			continue
		}
		p.logger.Warn("retiring stray certificate", "thing", thing, "certificate_arn", arn)
		if err := p.iot.Retire(ctx, thing, arn); err != nil {
			return step(StepStrays, err)
		}
	}
	return nil
}

// announce publishes the outcome; the SIM is provisioned either way, so a
// lost announcement is logged, never retried into a second provisioning.
func (p *Provisioner) announce(ctx context.Context, cmd events.SimCommand, msg string) {
	n := events.NewNotification(p.now(), cmd.ICCID, cmd.IP, msg)
	if err := p.announcer.Announce(ctx, n); err != nil {
		p.logger.Error("announcement not sent", "iccid", cmd.ICCID, "error", err)
	}
}
