// Package app holds the deactivator's use cases: take a SIM's access away
// (disable: certificate INACTIVE, reactivated when the SIM is enabled again)
// or for good (revoke: certificate REVOKED, a fresh one is issued on enable).
//
// Like the provisioner, a command first claims the SIM's record (a
// conditional write naming it, simrec.Claims), so no other command changes
// the SIM's certificates meanwhile, and a command computed against an older
// state is ignored (simrec.Record.Admits). The certificates are changed
// before the record says the SIM is inactive: a crash in between is
// finished by the redelivery (the claim names it), and if the command is
// given up the record still says active while the certificate grants
// nothing — the next sync disables it again.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/steps"
)

// Steps of deactivation besides the claim's (simrec.StepLoad,
// simrec.StepClaim), named in failure notifications and metrics.
const (
	StepDeactivate = "deactivate certificate"
	StepRevoke     = "revoke certificate"
	StepRecord     = "record inactive"
)

// Certificates changes the status of a SIM's certificates in IoT Core.
type Certificates interface {
	// Deactivate makes a certificate grant nothing (INACTIVE); one that IoT
	// Core does not know, or has REVOKED, grants nothing already.
	Deactivate(ctx context.Context, certID string) error
	// Revoke makes a certificate REVOKED for good; known is false when IoT
	// Core does not know it (an own-CA certificate never registered).
	Revoke(ctx context.Context, certID string) (known bool, err error)
	// ARN is the ARN of a certificate IoT Core knows.
	ARN(ctx context.Context, certID string) (string, error)
}

// Notifier announces the outcome.
type Notifier interface {
	Success(ctx context.Context, iccid, ip, msg string) error
	Failure(ctx context.Context, iccid, ip, msg string) error
}

// Deps are the deactivator's collaborators.
type Deps struct {
	// Store keeps the SIM records (simstore).
	Store        simrec.ClaimStore
	Certificates Certificates
	Notifier     Notifier
	Logger       *slog.Logger
	// Clock times claims (nil: the wall clock).
	Clock simrec.Clock
}

// Deactivator handles disable and revoke commands.
type Deactivator struct {
	Deps
	claims *simrec.Claims
}

// New returns a deactivator; it fails when a dependency is missing.
func New(d Deps, t simrec.ClaimTiming) (*Deactivator, error) {
	if d.Store == nil || d.Certificates == nil || d.Notifier == nil || d.Logger == nil {
		return nil, errors.New("deactivator: store, certificates, notifier and logger are required")
	}
	claims, err := simrec.NewClaims(d.Store, t, d.Clock)
	if err != nil {
		return nil, fmt.Errorf("deactivator: %w", err)
	}
	return &Deactivator{Deps: d, claims: claims}, nil
}

// Handle takes away the access of the SIM named by cmd. A command for a SIM
// the store does not know ends with one failure notification instead of
// being retried forever; a stale or already carried out one changes nothing.
func (d *Deactivator) Handle(ctx context.Context, cmd events.SimCommand) error {
	if cmd.Kind != events.KindDisable && cmd.Kind != events.KindRevoke {
		return fmt.Errorf("%w: deactivator got a %s command", events.ErrInvalidCommand, cmd.Kind)
	}
	return d.claims.Do(ctx, func(ctx context.Context) error { return d.attempt(ctx, cmd) })
}

// attempt claims the record, changes the certificates, then records the
// SIM inactive and releases the claim in one write.
func (d *Deactivator) attempt(ctx context.Context, cmd events.SimCommand) error {
	id := cmd.CommandID()
	rec, err := d.claims.Await(ctx, cmd.ICCID, id)
	if errors.Is(err, simrec.ErrNotFound) {
		d.Logger.Warn("command for an unknown SIM", "iccid", cmd.ICCID, "kind", cmd.Kind)
		return d.Notifier.Failure(ctx, cmd.ICCID, cmd.IP, fmt.Sprintf("SIM %s failed: no record for this SIM", cmd.Kind))
	}
	if err != nil {
		return err
	}
	if !rec.Admits(id, cmd.BaseVersion, cmd.BaseCommand) {
		d.Logger.Info("stale command ignored", "iccid", cmd.ICCID, "kind", cmd.Kind, "base_version", cmd.BaseVersion,
			"record_version", rec.Version, "record_last_command", rec.LastCommand)
		d.forget(ctx, rec, id)
		return nil
	}
	if done(rec, cmd, id) {
		d.forget(ctx, rec, id)
		return nil
	}
	wasActive := rec.Active
	if rec, err = d.claims.Take(ctx, rec, id); err != nil {
		return err
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
	rec.Release()
	if _, err := d.Store.Update(ctx, rec); err != nil {
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

// forget clears the failure an earlier attempt of this command recorded.
func (d *Deactivator) forget(ctx context.Context, rec simrec.Record, id string) {
	if err := d.claims.Forget(ctx, rec, id); err != nil {
		d.Logger.Warn("last failure not cleared", "iccid", rec.ICCID, "error", err)
	}
}

// announce tells the world the SIM lost its access; a pending or disabled
// SIM that stays without access is no news.
func (d *Deactivator) announce(ctx context.Context, rec simrec.Record, cmd events.SimCommand, wasActive bool) {
	msg := events.MessageDisabled
	switch {
	case cmd.Kind == events.KindRevoke:
		msg = events.MessageRevoked
		d.Logger.Info("certificate revoked", "iccid", rec.ICCID, "certificate_id", rec.CertificateID())
	case !wasActive:
		return
	}
	if err := d.Notifier.Success(ctx, rec.ICCID, rec.IP, msg); err != nil {
		d.Logger.Error("success notification not sent", "iccid", rec.ICCID, "error", err)
	}
}
