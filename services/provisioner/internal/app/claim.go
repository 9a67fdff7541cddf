package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simrec"
)

// begin reads the SIM's record and claims it for cmd. It returns nil work
// when there is nothing to do: the command is stale, already carried out, or
// refused (the operator is told).
func (p *Provisioner) begin(ctx context.Context, cmd events.SimCommand) (*work, error) {
	id := cmd.CommandID()
	rec, err := p.claims.Await(ctx, cmd.ICCID, id)
	if errors.Is(err, simrec.ErrNotFound) {
		return p.claimNew(ctx, cmd, id)
	}
	if err != nil {
		return nil, err
	}
	if !rec.Admits(id, cmd.BaseVersion, cmd.BaseCommand) {
		p.Logger.Info("stale command ignored", "iccid", cmd.ICCID, "command", id, "base_version", cmd.BaseVersion,
			"record_version", rec.Version, "record_last_command", rec.LastCommand)
		p.forget(ctx, rec, id)
		return nil, nil
	}
	w := &work{cmd: cmd, id: id, rec: rec, wasActive: rec.Active}
	if done(w) {
		p.forget(ctx, rec, id)
		return nil, nil
	}
	if reason := p.refusal(w); reason != "" {
		p.refuse(ctx, w, reason)
		return nil, nil
	}
	if w.rec, err = p.claims.Take(ctx, rec, id); err != nil {
		return nil, err
	}
	return w, nil
}

// claimNew creates the record of a SIM seen for the first time, claimed.
func (p *Provisioner) claimNew(ctx context.Context, cmd events.SimCommand, id string) (*work, error) {
	switch cmd.Kind {
	case events.KindReissue, events.KindEnrol, events.KindKeyMode:
		p.refuse(ctx, &work{cmd: cmd, id: id, rec: simrec.Record{ICCID: cmd.ICCID}}, "the SIM has no record")
		return nil, nil
	}
	rec := simrec.Record{ICCID: cmd.ICCID, IP: cmd.IP, Status: cmd.Status, ThingName: cmd.ICCID}
	rec.SetState(simrec.StatePending)
	p.claims.Claim(&rec, id)
	created, err := p.Store.Create(ctx, rec)
	if err != nil {
		return nil, step(simrec.StepClaim, err) // ErrConflict: created meanwhile; read again
	}
	return &work{cmd: cmd, id: id, rec: created}, nil
}

// done reports whether the record is already as the command asks, with
// nothing left over from an interrupted attempt.
func done(w *work) bool {
	r := w.rec
	switch w.cmd.Kind {
	case events.KindReissue, events.KindKeyMode:
		return r.Settled() && r.LastCommand == w.id
	case events.KindEnrol:
		return r.Settled() && r.Cert != nil && r.Cert.Command == w.id
	}
	return r.Settled() && r.CurrentState() == simrec.StateActive && r.IP == w.cmd.IP
}

// refusal says why a command cannot be carried out ("" if it can). A
// reissue or an enrolment is refused unless the SIM is active: a claimed
// one keeps it so, since every other change of state claims the record
// first. An enrolment is refused where the SIM's key mode does not enrol,
// and for a key whose certificate was taken out of service
// (simrec.Record.CheckKey); onboarding-api checks the same before it sends
// one, so these refusals answer races only.
func (p *Provisioner) refusal(w *work) string {
	switch w.cmd.Kind {
	case events.KindReissue:
		if st := w.rec.CurrentState(); st != simrec.StateActive {
			return fmt.Sprintf("the SIM is %s; only an active SIM's certificate is reissued (enable it first)", st)
		}
	case events.KindEnrol:
		if st := w.rec.CurrentState(); st != simrec.StateActive {
			return fmt.Sprintf("the SIM is %s; only an active SIM enrols", st)
		}
		if m := p.keyMode(w); !m.Enrols() {
			return fmt.Sprintf("the SIM's key mode is %s: it does not enrol", m)
		}
		if err := w.rec.CheckKey(w.id); err != nil {
			return err.Error()
		}
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

// forget clears the failure an earlier attempt of this command recorded.
func (p *Provisioner) forget(ctx context.Context, rec simrec.Record, id string) {
	if err := p.claims.Forget(ctx, rec, id); err != nil {
		p.Logger.Warn("last failure not cleared", "iccid", rec.ICCID, "error", err)
	}
}
