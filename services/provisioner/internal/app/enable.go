package app

import (
	"context"
	"errors"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simrec"
)

// enable makes the SIM onboardable at the command's IP: it finishes a
// certificate being issued, reactivates a disabled SIM's certificate (the
// device may still hold it), issues a first or fresh one (a new or revoked
// SIM; in key mode device none, until the device enrols), or only moves
// the record to a new IP.
func (p *Provisioner) enable(ctx context.Context, w *work) error {
	oldIP := w.rec.IP
	var err error
	switch rec := w.rec; {
	case rec.Next != nil:
		err = p.issueNext(ctx, w)
	case rec.CurrentState() == simrec.StateActive && rec.HasCredentials():
		// Only the IP (or leftovers of an interrupted attempt) to settle.
	case rec.HasCredentials() && rec.CurrentState() != simrec.StateRevoked:
		err = p.reactivate(ctx, w)
	default:
		err = p.fresh(ctx, w)
	}
	if err != nil {
		return err
	}
	w.rec.Enable(w.cmd.IP, w.cmd.Status)
	if err := p.settle(ctx, w, StepRecordActive); err != nil {
		return err
	}
	switch {
	case !w.wasActive:
		p.announce(ctx, w, events.MessageEnabled)
	case oldIP != w.rec.IP:
		p.announce(ctx, w, events.MessageUpdated)
	}
	return nil
}

// reactivate makes the current certificate serve again: ACTIVE first, so a
// certificate IoT Core will not activate (REVOKED meanwhile, or deleted) is
// replaced by a fresh one before anything is attached to it; then attached
// to the Thing (made again if deleted) with the policy.
func (p *Provisioner) reactivate(ctx context.Context, w *work) error {
	cert := *w.rec.Cert
	err := p.IoT.Activate(ctx, cert.ID)
	if errors.Is(err, ErrCannotActivate) {
		p.Logger.Warn("certificate cannot be reactivated; issuing a fresh one", "iccid", w.rec.ICCID, "certificate_id", cert.ID, "error", err)
		return p.fresh(ctx, w)
	}
	if err != nil {
		return step(StepActivate, err)
	}
	return p.attach(ctx, w, cert.ARN)
}
