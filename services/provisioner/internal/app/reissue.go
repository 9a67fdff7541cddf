package app

import (
	"context"

	"github.com/simbridge/simbridge/libs/events"
)

// reissue replaces an active SIM's key and certificate (suspected leak): the
// new certificate is made ACTIVE, the record switched to it in one write,
// then the old one is REVOKED and detached. The device fetches the new one.
// In key mode device there is no key to make: the certificate is REVOKED
// and detached, and the device must enrol again.
func (p *Provisioner) reissue(ctx context.Context, w *work) error {
	switch {
	case w.rec.Next != nil:
		if err := p.issueNext(ctx, w); err != nil {
			return err
		}
	case w.rec.Cert != nil && w.rec.Cert.Command == w.id:
		// Switched already: an earlier attempt stopped while revoking.
	default:
		if err := p.fresh(ctx, w); err != nil {
			return err
		}
	}
	if err := p.settle(ctx, w, StepRecordActive); err != nil {
		return err
	}
	p.Logger.Info("certificate reissued", "iccid", w.rec.ICCID, "certificate_id", w.rec.CertificateID())
	p.announce(ctx, w, events.MessageReissued)
	return nil
}
