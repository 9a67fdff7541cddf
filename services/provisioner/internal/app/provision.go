// Package app holds the provisioner's use cases: make a SIM onboardable
// (create, update), replace its certificate (reissue), certify the key of
// its device (enrol) and set its key mode.
//
// The invariant: every active SIM has exactly one ACTIVE certificate,
// attached to its Thing with the policy, and its record points to it; no
// certificate exists in IoT Core that a record does not reference (with
// Amazon-issued certificates, an answer lost for good may leave one INACTIVE
// and unattached). How it holds when any call is slow, lost after it took
// effect, throttled, or the process is killed at any point:
//
//  1. A command first claims the SIM's record with a conditional write that
//     names it (LastCommand, ClaimedBy; simrec.Claims). Only the claimant
//     changes the SIM's certificates; another command waits until the claim
//     ends or expires. A command computed against an older state than the
//     record's is stale and ignored (simrec.Record.Admits), so a late
//     command never undoes a newer one, whatever order the queues deliver in.
//  2. A new certificate is minted and written into the record (Next, its key
//     sealed with KMS) before IoT Core hears of it. With the account's own CA
//     (the default) the key and certificate are made here and signed through
//     KMS: nothing exists in IoT Core yet. With Amazon's CA,
//     CreateKeysAndCertificate is called (INACTIVE) and its answer recorded
//     at once. An enrolment (enrol.go) certifies the public key of the
//     device's request instead — signed through KMS, recorded in Next
//     without a key — and continues with the same steps.
//  3. The certificate in Next is registered (own CA; RegisterCertificate is
//     idempotent because the id is the SHA-256 of the DER, known in advance),
//     attached to the Thing, given the policy and made ACTIVE.
//  4. One write switches the record: Next becomes the current certificate,
//     the replaced one (if any) goes to Retiring, the SIM is active.
//  5. Certificates in Retiring are REVOKED and detached from the Thing; the
//     last write clears Retiring and the claim.
//
// In key mode device no key is made here: a SIM without a certificate
// gets its Thing and an active record (awaitEnrolment) and its first
// certificate when its device enrols, through steps 2 to 5; such a SIM's
// record then holds no key (simrec.Record.HoldsKey) and exactly one
// certificate, ACTIVE, once enrolled.
//
// Recovery after a crash is the same command redelivered: it finds its own
// claim and does the remaining steps for the certificates the record names.
// Nothing ever sweeps the account: no certificate, Thing or policy is touched
// that the SIM's record does not name.
package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simrec"
)

// Provisioner handles create, update and reissue commands.
type Provisioner struct {
	Deps
	claims *simrec.Claims
}

// New returns a provisioner; it fails when a dependency is missing.
func New(d Deps, t simrec.ClaimTiming) (*Provisioner, error) {
	if d.Store == nil || d.IoT == nil || d.Authority == nil || d.Sealer == nil || d.Announcer == nil || d.Notifier == nil || d.Logger == nil {
		return nil, errors.New("provisioner: every dependency is required")
	}
	if d.Clock == nil {
		d.Clock = simrec.SystemClock{}
	}
	if d.KeyMode == "" {
		d.KeyMode = simrec.KeyModeServer
	}
	claims, err := simrec.NewClaims(d.Store, t, d.Clock)
	if err != nil {
		return nil, fmt.Errorf("provisioner: %w", err)
	}
	return &Provisioner{Deps: d, claims: claims}, nil
}

// Handle brings the SIM to the state cmd asks for. A stale command, or one
// already carried out, changes nothing.
func (p *Provisioner) Handle(ctx context.Context, cmd events.SimCommand) error {
	switch cmd.Kind {
	case events.KindCreate, events.KindUpdate, events.KindReissue, events.KindEnrol, events.KindKeyMode:
	default:
		return fmt.Errorf("%w: provisioner got a %s command", events.ErrInvalidCommand, cmd.Kind)
	}
	return p.claims.Do(ctx, func(ctx context.Context) error {
		w, err := p.begin(ctx, cmd)
		if err == nil && w != nil {
			err = p.carryOut(ctx, w)
		}
		if errors.Is(err, simrec.ErrConflict) {
			p.Logger.Info("record changed during the command; reading it again", "iccid", cmd.ICCID)
		}
		return err
	})
}

// work is one command at work on its claimed record.
type work struct {
	cmd events.SimCommand
	id  string
	rec simrec.Record
	// wasActive is the state before the command, for the announcement.
	wasActive bool
}

// carryOut runs the use case the command's kind asks for.
func (p *Provisioner) carryOut(ctx context.Context, w *work) error {
	switch w.cmd.Kind {
	case events.KindReissue:
		return p.reissue(ctx, w)
	case events.KindEnrol:
		return p.enrol(ctx, w)
	case events.KindKeyMode:
		return p.setKeyMode(ctx, w)
	}
	return p.enable(ctx, w)
}

// keyMode is the SIM's effective key mode.
func (p *Provisioner) keyMode(w *work) simrec.KeyMode { return w.rec.KeyModeIn(p.KeyMode) }

// save writes the record; the claim stays until release.
func (p *Provisioner) save(ctx context.Context, w *work, stepName string) error {
	rec, err := p.Store.Update(ctx, w.rec)
	if err != nil {
		return step(stepName, err)
	}
	w.rec = rec
	return nil
}

// release is the command's last write: the claim and any failure go.
func (p *Provisioner) release(ctx context.Context, w *work, stepName string) error {
	w.rec.Release()
	return p.save(ctx, w, stepName)
}

// announce publishes the outcome; the SIM is provisioned either way, so a
// lost announcement is logged, never retried into a second provisioning.
func (p *Provisioner) announce(ctx context.Context, w *work, msg string) {
	n := events.NewNotification(p.Clock.Now(), w.rec.ICCID, w.rec.IP, msg)
	if err := p.Announcer.Announce(ctx, n); err != nil {
		p.Logger.Error("announcement not sent", "iccid", w.rec.ICCID, "error", err)
	}
}
