package app

import (
	"context"
	"errors"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simrec"
)

// enrol gives the SIM a certificate for the public key of its device's
// request, by the steps every certificate takes (provision.go): certified
// through the CA in KMS and recorded in Next, without a key, before IoT
// Core hears of it; registered, attached to the Thing with the policy; one
// write switches the record to it, with the enrolment in the SIM's history
// and the SIM in key mode device (enrolled); then the replaced certificate
// is REVOKED and detached. No private key of the SIM is left in the record. The
// command's id names the key (events.EnrolID), so a redelivery, or the
// device sending the same request again, finds its certificate.
func (p *Provisioner) enrol(ctx context.Context, w *work) error {
	switch {
	case w.rec.Next != nil && w.rec.Next.Command == w.id:
		if err := p.issueNext(ctx, w); err != nil {
			return err
		}
	case w.rec.Cert != nil && w.rec.Cert.Command == w.id:
		// Switched already: an earlier attempt stopped while revoking.
	default:
		if w.rec.Next != nil {
			// Another command's certificate, interrupted: finished first
			// (IoT Core may know it), then replaced like the current one.
			if err := p.issueNext(ctx, w); err != nil {
				return err
			}
		}
		err := p.certify(ctx, w)
		if errors.Is(err, ErrCannotCertify) {
			p.refuse(ctx, w, err.Error())
			return p.settle(ctx, w, StepRecordActive)
		}
		if err != nil {
			return err
		}
		if err := p.issueNext(ctx, w); err != nil {
			return err
		}
	}
	if err := p.settle(ctx, w, StepRecordActive); err != nil {
		return err
	}
	p.Logger.Info("device enrolled", "iccid", w.rec.ICCID, "certificate_id", w.rec.CertificateID(), "enrolments", w.rec.EnrolCount)
	p.announce(ctx, w, events.MessageEnrolled)
	return nil
}

// certify has the authority certify the request and records the
// certificate in Next, without a key, before IoT Core hears of it.
func (p *Provisioner) certify(ctx context.Context, w *work) error {
	m, err := p.Authority.Certify(ctx, w.rec.ICCID, []byte(w.cmd.CSR))
	if err != nil {
		return step(StepCertify, err)
	}
	w.rec.Next = &simrec.Credentials{ID: m.ID, ARN: m.ARN, PEM: m.CertPEM, Authority: p.Authority.Name(),
		IssuedAt: p.Clock.Now().UTC(), Command: w.id, DeviceKey: true}
	return p.save(ctx, w, StepRecordNext)
}

// enrolled notes the enrolment on the record just switched to its
// certificate (in memory; the next write stores it): in the SIM's history,
// and the SIM in key mode device from now on, its sealed keys gone. Whoever
// finishes an enrolment's certificate (issueNext) notes it, so one finished
// by a later command after a crash is in the history too.
func (p *Provisioner) enrolled(w *work) {
	c := w.rec.Cert
	w.rec.Enrolled(simrec.Enrolment{At: p.Clock.Now().UTC(), CertificateID: c.ID, Command: c.Command})
	w.rec.KeyMode = simrec.KeyModeDevice
	w.rec.DropKeys()
}

// awaitEnrolment makes a SIM in key mode device onboardable without a key
// of ours: its Thing exists, the record is active and pinned to key mode
// device, and the certificate comes when its device enrols. A certificate
// the record still names (a revoked one, or one being reissued) is retired:
// only an enrolment gives the SIM a new one.
func (p *Provisioner) awaitEnrolment(ctx context.Context, w *work) error {
	thing := Thing{Name: w.rec.ThingName, IMSI: w.cmd.IMSI, MSISDN: w.cmd.MSISDN, Label: w.cmd.Label}
	if err := p.IoT.EnsureThing(ctx, thing); err != nil {
		return step(StepThing, err)
	}
	if old := w.rec.Cert; old != nil {
		if old.ARN != "" {
			w.rec.Retire(old.ARN)
		}
		w.rec.Cert = nil
	}
	w.rec.KeyMode = simrec.KeyModeDevice
	p.Logger.Info("waiting for the device to enrol", "iccid", w.rec.ICCID)
	return nil
}

// fresh gives the SIM a new certificate the way its key mode says: a key
// and certificate made here, or none until the device enrols.
func (p *Provisioner) fresh(ctx context.Context, w *work) error {
	if p.keyMode(w).ServesKeys() {
		return p.issueFresh(ctx, w)
	}
	return p.awaitEnrolment(ctx, w)
}

// setKeyMode sets the SIM's own key mode. A mode that serves no keys
// deletes the sealed ones at once: the device keeps using the certificate
// (it holds the key) and enrols for the next one.
func (p *Provisioner) setKeyMode(ctx context.Context, w *work) error {
	w.rec.KeyMode = simrec.KeyMode(w.cmd.KeyMode)
	if !p.keyMode(w).ServesKeys() {
		w.rec.DropKeys()
	}
	p.Logger.Info("key mode set", "iccid", w.rec.ICCID, "key_mode", w.rec.KeyMode, "requested_by", w.cmd.RequestedBy)
	return p.release(ctx, w, StepRecordKeyMode)
}
