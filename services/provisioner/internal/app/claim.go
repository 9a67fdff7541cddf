package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/steps"
)

// ErrBusy means another command still holds the SIM's claim; the attempt
// fails and the queue brings the command back.
var ErrBusy = fmt.Errorf("%w: another command is changing this SIM", steps.ErrTransient)

// begin reads the SIM's record and claims it for cmd. It returns nil work
// when there is nothing to do: the command is stale, already carried out, or
// refused (the operator is told).
func (p *Provisioner) begin(ctx context.Context, cmd events.SimCommand) (*work, error) {
	id := cmd.CommandID()
	rec, err := p.awaitClaim(ctx, cmd.ICCID, id)
	if errors.Is(err, simrec.ErrNotFound) {
		return p.claimNew(ctx, cmd, id)
	}
	if err != nil {
		return nil, err
	}
	if !rec.Admits(id, cmd.BaseVersion, cmd.BaseCommand) {
		p.Logger.Info("stale command ignored", "iccid", cmd.ICCID, "command", id, "base_version", cmd.BaseVersion,
			"record_version", rec.Version, "record_last_command", rec.LastCommand)
		p.clearOwnFailure(ctx, rec, id)
		return nil, nil
	}
	w := &work{cmd: cmd, id: id, rec: rec, wasActive: rec.Active}
	if p.done(w) {
		p.clearOwnFailure(ctx, rec, id)
		return nil, nil
	}
	if reason := refusal(w); reason != "" {
		p.refuse(ctx, w, reason)
		return nil, nil
	}
	w.rec.LastCommand, w.rec.ClaimedBy, w.rec.ClaimedUntil = id, id, p.now().Add(p.timing.ClaimTTL)
	if err := p.save(ctx, w, StepClaim); err != nil {
		return nil, err
	}
	return w, nil
}

// claimNew creates the record of a SIM seen for the first time, claimed.
func (p *Provisioner) claimNew(ctx context.Context, cmd events.SimCommand, id string) (*work, error) {
	if cmd.Kind == events.KindReissue {
		p.refuse(ctx, &work{cmd: cmd, id: id, rec: simrec.Record{ICCID: cmd.ICCID}}, "the SIM has no record")
		return nil, nil
	}
	rec := simrec.Record{ICCID: cmd.ICCID, IP: cmd.IP, Status: cmd.Status, ThingName: cmd.ICCID,
		LastCommand: id, ClaimedBy: id, ClaimedUntil: p.now().Add(p.timing.ClaimTTL)}
	rec.SetState(simrec.StatePending)
	created, err := p.Store.Create(ctx, rec)
	if err != nil {
		return nil, step(StepClaim, err) // ErrConflict: created meanwhile; the caller reads again
	}
	return &work{cmd: cmd, id: id, rec: created}, nil
}

// awaitClaim reads the record, waiting while another command holds an
// unexpired claim on it.
func (p *Provisioner) awaitClaim(ctx context.Context, iccid, id string) (simrec.Record, error) {
	deadline := p.now().Add(p.timing.ClaimWait)
	for {
		rec, err := p.Store.Get(ctx, iccid)
		if err != nil {
			if errors.Is(err, simrec.ErrNotFound) {
				return rec, err
			}
			return rec, step(StepLoad, err)
		}
		if !rec.Claimed(id, p.now()) {
			return rec, nil
		}
		if !p.now().Before(deadline) {
			return rec, step(StepClaim, fmt.Errorf("%w: %s until %s", ErrBusy, rec.ClaimedBy, rec.ClaimedUntil.Format("15:04:05")))
		}
		if err := p.sleep(ctx, p.timing.Poll); err != nil {
			return rec, step(StepClaim, err)
		}
	}
}

// done reports whether the record is already as the command asks, with
// nothing left over from an interrupted attempt.
func (p *Provisioner) done(w *work) bool {
	r := w.rec
	settled := r.Next == nil && len(r.Retiring) == 0 && r.ClaimedBy == ""
	switch w.cmd.Kind {
	case events.KindReissue:
		return settled && r.LastCommand == w.id
	default:
		return settled && r.CurrentState() == simrec.StateActive && r.IP == w.cmd.IP
	}
}

// refusal says why a command cannot be carried out ("" if it can).
func refusal(w *work) string {
	if w.cmd.Kind == events.KindReissue && w.rec.CurrentState() != simrec.StateActive && w.rec.LastCommand != w.id {
		return fmt.Sprintf("the SIM is %s; only an active SIM's certificate is reissued (enable it first)", w.rec.CurrentState())
	}
	return ""
}

// refuse tells operators a command was not carried out; it is not retried.
func (p *Provisioner) refuse(ctx context.Context, w *work, reason string) {
	msg := fmt.Sprintf("SIM %s refused: %s", w.cmd.Kind, reason)
	p.Logger.Warn("command refused", "iccid", w.cmd.ICCID, "kind", w.cmd.Kind, "reason", reason)
	if err := p.Notifier.Failure(ctx, w.cmd.ICCID, w.rec.IP, msg); err != nil {
		p.Logger.Error("failure notification not sent", "iccid", w.cmd.ICCID, "error", err)
	}
}

// clearOwnFailure removes the failure an earlier attempt of this command
// recorded, when this attempt finds nothing left to do.
func (p *Provisioner) clearOwnFailure(ctx context.Context, rec simrec.Record, id string) {
	if rec.LastFailure == nil || rec.LastFailure.Command != id {
		return
	}
	if err := p.Store.ClearFailure(ctx, rec.ICCID, id); err != nil {
		p.Logger.Warn("last failure not cleared", "iccid", rec.ICCID, "error", err)
	}
}
