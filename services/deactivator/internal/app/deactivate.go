// Package app holds the deactivator's use cases: take a SIM's access away
// (disable: certificate INACTIVE, reactivated when the SIM is enabled again)
// or for good (revoke: certificate REVOKED, a fresh one is issued on enable).
//
// Like the provisioner, a command first claims the SIM's record (a
// conditional write naming it), so no other command changes the SIM's
// certificates meanwhile, and a command computed against an older state is
// ignored. The certificates are changed before the record says the SIM is
// inactive: a crash in between is finished by the redelivery (the claim
// names it), and if the command is given up the record still says active
// while the certificate grants nothing — the next sync disables it again.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/iotcore"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/steps"
)

// Steps of deactivation, named in failure notifications and metrics.
const (
	StepLoad       = "load record"
	StepClaim      = "claim record"
	StepDeactivate = "deactivate certificate"
	StepRevoke     = "revoke certificate"
	StepRecord     = "record inactive"
)

// ErrBusy means another command still holds the SIM's claim.
var ErrBusy = fmt.Errorf("%w: another command is changing this SIM", steps.ErrTransient)

// Store reads and conditionally writes SIM records.
type Store interface {
	Get(ctx context.Context, iccid string) (simrec.Record, error)
	Update(ctx context.Context, r simrec.Record) (simrec.Record, error)
	ClearFailure(ctx context.Context, iccid, command string) error
}

// Certificates changes a certificate's status in IoT Core.
type Certificates interface {
	SetStatus(ctx context.Context, certID string, status iottypes.CertificateStatus) error
	ARN(ctx context.Context, certID string) (string, error)
}

// Notifier announces the outcome.
type Notifier interface {
	Success(ctx context.Context, iccid, ip, msg string) error
	Failure(ctx context.Context, iccid, ip, msg string) error
}

// Timing bounds claims, as the provisioner's.
type Timing struct {
	ClaimTTL, ClaimWait, Poll time.Duration
}

// DefaultTiming matches the provisioner's.
var DefaultTiming = Timing{ClaimTTL: 2 * time.Minute, ClaimWait: 20 * time.Second, Poll: 500 * time.Millisecond}

// Deactivator handles disable and revoke commands.
type Deactivator struct {
	store    Store
	certs    Certificates
	notifier Notifier
	logger   *slog.Logger
	timing   Timing
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error
}

// New returns a deactivator.
func New(store Store, certs Certificates, notifier Notifier, logger *slog.Logger, t Timing) *Deactivator {
	return &Deactivator{store: store, certs: certs, notifier: notifier, logger: logger, timing: t, now: time.Now, sleep: sleepCtx}
}

// WithClock replaces the clock and the sleep, for tests.
func (d *Deactivator) WithClock(now func() time.Time, sleep func(ctx context.Context, d time.Duration) error) *Deactivator {
	d.now, d.sleep = now, sleep
	return d
}

// Handle takes away the access of the SIM named by cmd. A command for a SIM
// the store does not know ends with one failure notification instead of
// being retried forever; a stale or already carried out one changes nothing.
func (d *Deactivator) Handle(ctx context.Context, cmd events.SimCommand) error {
	if cmd.Kind != events.KindDisable && cmd.Kind != events.KindRevoke {
		return fmt.Errorf("%w: deactivator got a %s command", events.ErrInvalidCommand, cmd.Kind)
	}
	ctx, cancel := context.WithTimeout(ctx, d.timing.ClaimTTL-d.timing.ClaimTTL/4)
	defer cancel()
	var err error
	for range 4 {
		err = d.attempt(ctx, cmd)
		if !errors.Is(err, simrec.ErrConflict) {
			return err
		}
	}
	return err
}

func (d *Deactivator) attempt(ctx context.Context, cmd events.SimCommand) error {
	id := cmd.CommandID()
	rec, err := d.awaitClaim(ctx, cmd.ICCID, id)
	if errors.Is(err, simrec.ErrNotFound) {
		d.logger.Warn("command for an unknown SIM", "iccid", cmd.ICCID, "kind", cmd.Kind)
		return d.notifier.Failure(ctx, cmd.ICCID, cmd.IP, fmt.Sprintf("SIM %s failed: no record for this SIM", cmd.Kind))
	}
	if err != nil {
		return err
	}
	if !rec.Admits(id, cmd.BaseVersion, cmd.BaseCommand) {
		d.logger.Info("stale command ignored", "iccid", cmd.ICCID, "kind", cmd.Kind, "base_version", cmd.BaseVersion,
			"record_version", rec.Version, "record_last_command", rec.LastCommand)
		d.clearOwnFailure(ctx, rec, id)
		return nil
	}
	if done(rec, cmd, id) {
		d.clearOwnFailure(ctx, rec, id)
		return nil
	}
	wasActive := rec.Active
	rec.LastCommand, rec.ClaimedBy, rec.ClaimedUntil = id, id, d.now().Add(d.timing.ClaimTTL)
	if rec, err = d.store.Update(ctx, rec); err != nil {
		return steps.Wrap(StepClaim, err)
	}
	if cmd.Kind == events.KindRevoke {
		err = d.revoke(ctx, &rec)
	} else {
		err = d.disable(ctx, &rec)
	}
	if err != nil {
		return err
	}
	if cmd.Status != "" {
		rec.Status = cmd.Status
	}
	rec.ClaimedBy, rec.ClaimedUntil, rec.LastFailure = "", time.Time{}, nil
	if _, err := d.store.Update(ctx, rec); err != nil {
		return steps.Wrap(StepRecord, err)
	}
	d.announce(ctx, rec, cmd, wasActive)
	return nil
}

// done reports whether the SIM is already as the command asks.
func done(rec simrec.Record, cmd events.SimCommand, id string) bool {
	if rec.ClaimedBy != "" {
		return false
	}
	if cmd.Status != "" && rec.Status != cmd.Status {
		return false // the 1NCE status is news to record
	}
	switch st := rec.CurrentState(); cmd.Kind {
	case events.KindRevoke:
		return st == simrec.StateRevoked && rec.Next == nil
	default:
		return (st == simrec.StateDisabled || st == simrec.StateRevoked) && (rec.LastCommand == id || rec.Next == nil)
	}
}

// disable sets the current certificate and one being issued INACTIVE (a
// REVOKED one stays so); the record then says disabled.
func (d *Deactivator) disable(ctx context.Context, rec *simrec.Record) error {
	revoked := rec.CurrentState() == simrec.StateRevoked
	for _, c := range []*simrec.Credentials{rec.Cert, rec.Next} {
		if c == nil || (revoked && c == rec.Cert) {
			continue
		}
		err := d.certs.SetStatus(ctx, c.ID, iotcore.StatusInactive)
		if err != nil && !errors.Is(err, iotcore.ErrCertificateNotFound) && !errors.Is(err, iotcore.ErrCertificateRevoked) {
			return steps.Wrap(StepDeactivate, err)
		}
	}
	if !revoked {
		rec.SetState(simrec.StateDisabled)
	}
	return nil
}

// revoke sets the current certificate and one being issued REVOKED. A
// certificate being issued that IoT Core does not know yet is dropped (it
// never left the record); one it knows joins Retiring, to be detached when
// the SIM gets a fresh certificate.
func (d *Deactivator) revoke(ctx context.Context, rec *simrec.Record) error {
	if rec.Cert != nil {
		err := d.certs.SetStatus(ctx, rec.Cert.ID, iotcore.StatusRevoked)
		if err != nil && !errors.Is(err, iotcore.ErrCertificateNotFound) {
			return steps.Wrap(StepRevoke, err)
		}
	}
	if next := rec.Next; next != nil {
		err := d.certs.SetStatus(ctx, next.ID, iotcore.StatusRevoked)
		switch {
		case errors.Is(err, iotcore.ErrCertificateNotFound):
		case err != nil:
			return steps.Wrap(StepRevoke, err)
		default:
			arn := next.ARN
			if arn == "" {
				if arn, err = d.certs.ARN(ctx, next.ID); err != nil {
					return steps.Wrap(StepRevoke, err)
				}
			}
			rec.Retiring = append(rec.Retiring, arn)
		}
		rec.Next = nil
	}
	rec.SetState(simrec.StateRevoked)
	return nil
}

func (d *Deactivator) announce(ctx context.Context, rec simrec.Record, cmd events.SimCommand, wasActive bool) {
	msg := events.MessageDisabled
	switch {
	case cmd.Kind == events.KindRevoke:
		msg = events.MessageRevoked
		d.logger.Info("certificate revoked", "iccid", rec.ICCID, "certificate_id", rec.CertificateID())
	case !wasActive:
		return // a pending or disabled SIM stays without access: no news
	}
	if err := d.notifier.Success(ctx, rec.ICCID, rec.IP, msg); err != nil {
		d.logger.Error("success notification not sent", "iccid", rec.ICCID, "error", err)
	}
}

// awaitClaim reads the record, waiting while another command holds an
// unexpired claim on it.
func (d *Deactivator) awaitClaim(ctx context.Context, iccid, id string) (simrec.Record, error) {
	deadline := d.now().Add(d.timing.ClaimWait)
	for {
		rec, err := d.store.Get(ctx, iccid)
		if err != nil {
			if errors.Is(err, simrec.ErrNotFound) {
				return rec, err
			}
			return rec, steps.Wrap(StepLoad, err)
		}
		if !rec.Claimed(id, d.now()) {
			return rec, nil
		}
		if !d.now().Before(deadline) {
			return rec, steps.Wrap(StepClaim, fmt.Errorf("%w: %s until %s", ErrBusy, rec.ClaimedBy, rec.ClaimedUntil.Format("15:04:05")))
		}
		if err := d.sleep(ctx, d.timing.Poll); err != nil {
			return rec, steps.Wrap(StepClaim, err)
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// clearOwnFailure removes the failure an earlier attempt of this command
// recorded, when this attempt finds nothing left to do.
func (d *Deactivator) clearOwnFailure(ctx context.Context, rec simrec.Record, id string) {
	if rec.LastFailure == nil || rec.LastFailure.Command != id {
		return
	}
	if err := d.store.ClearFailure(ctx, rec.ICCID, id); err != nil {
		d.logger.Warn("last failure not cleared", "iccid", rec.ICCID, "error", err)
	}
}
