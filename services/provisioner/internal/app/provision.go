// Package app holds the provisioner's use cases: make a SIM onboardable
// (create, update), and replace its certificate (reissue).
//
// The invariant: every active SIM has exactly one ACTIVE certificate,
// attached to its Thing with the policy, and its record points to it; no
// certificate exists in IoT Core that a record does not reference (with
// Amazon-issued certificates, an answer lost for good may leave one INACTIVE
// and unattached). How it holds when any call is slow, lost after it took
// effect, throttled, or the process is killed at any point:
//
//  1. A command first claims the SIM's record with a conditional write that
//     names it (LastCommand, ClaimedBy). Only the claimant changes the SIM's
//     certificates; another command waits until the claim ends or expires.
//     A command computed against an older state than the record's is stale
//     and ignored (simrec.Record.Admits), so a late command never undoes a
//     newer one, whatever order the queues deliver in.
//  2. A new certificate is minted and written into the record (Next, its key
//     sealed with KMS) before IoT Core hears of it. With the account's own CA
//     (the default) the key and certificate are made here and signed through
//     KMS: nothing exists in IoT Core yet. With Amazon's CA,
//     CreateKeysAndCertificate is called (INACTIVE) and its answer recorded
//     at once.
//  3. The certificate in Next is registered (own CA; RegisterCertificate is
//     idempotent because the id is the SHA-256 of the DER, known in advance),
//     attached to the Thing, given the policy and made ACTIVE.
//  4. One write switches the record: Next becomes the current certificate,
//     the replaced one (if any) goes to Retiring, the SIM is active.
//  5. Certificates in Retiring are REVOKED and detached from the Thing; the
//     last write clears Retiring and the claim.
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
	"log/slog"
	"time"

	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/iotcore"
	"github.com/simbridge/simbridge/libs/simrec"
)

// Store reads and conditionally writes SIM records.
type Store interface {
	Get(ctx context.Context, iccid string) (simrec.Record, error)
	Create(ctx context.Context, r simrec.Record) (simrec.Record, error)
	Update(ctx context.Context, r simrec.Record) (simrec.Record, error)
	ClearFailure(ctx context.Context, iccid, command string) error
}

// IoT performs the IoT Core steps on a SIM's Thing and certificates.
type IoT interface {
	EnsureThing(ctx context.Context, spec iotcore.ThingSpec) (iotcore.Thing, error)
	AttachToThing(ctx context.Context, thing, certARN string) error
	AttachPolicy(ctx context.Context, policy, certARN string) error
	SetStatus(ctx context.Context, certID string, status iottypes.CertificateStatus) error
	DetachFromThing(ctx context.Context, thing, certARN string) error
	ARN(ctx context.Context, certID string) (string, error)
}

// Authority mints certificates and makes IoT Core know them.
type Authority interface {
	// Name is simrec.AuthorityOwn or simrec.AuthorityAWS.
	Name() string
	// Mint creates a key and certificate for the SIM. The own CA does it
	// without IoT Core; Amazon's CA creates it there, INACTIVE.
	Mint(ctx context.Context, iccid string) (Minted, error)
	// Register makes IoT Core know a minted certificate and returns its ARN;
	// active says it is ACTIVE already (a fresh own-CA registration), so no
	// activation call is needed.
	Register(ctx context.Context, c simrec.Credentials) (arn string, active bool, err error)
}

// Minted is a fresh certificate; KeyPEM is the plaintext key, sealed before
// it is stored.
type Minted struct {
	ID, ARN, CertPEM, KeyPEM string
}

// Sealer encrypts a private key for one SIM.
type Sealer interface {
	Seal(ctx context.Context, iccid string, plaintext []byte) ([]byte, error)
}

// Announcer tells the world a SIM changed: SNS success topic and the MQTT
// registration topic.
type Announcer interface {
	Announce(ctx context.Context, n events.Notification) error
}

// Notifier tells operators about a command that cannot be carried out.
type Notifier interface {
	Failure(ctx context.Context, iccid, ip, msg string) error
}

// Deps are the provisioner's collaborators.
type Deps struct {
	Store     Store
	IoT       IoT
	Authority Authority
	Sealer    Sealer
	Announcer Announcer
	Notifier  Notifier
	// Policy is the IoT policy every certificate gets.
	Policy string
	// ThingGroup is the environment's thing group every SIM's Thing joins
	// and ThingType its type ("" for none).
	ThingGroup, ThingType string
	Logger                *slog.Logger
}

// Timing bounds how long a command holds or waits for a SIM's claim.
type Timing struct {
	// ClaimTTL is how long a claim keeps other commands off a SIM whose
	// claimant died; a live claimant finishes well within it.
	ClaimTTL time.Duration
	// ClaimWait is how long a command waits for another's claim to end
	// before its attempt fails (and the queue brings it back).
	ClaimWait time.Duration
	// Poll is the interval between looks at a claimed record.
	Poll time.Duration
}

// DefaultTiming suits AWS: a step retried through throttling takes seconds.
var DefaultTiming = Timing{ClaimTTL: 2 * time.Minute, ClaimWait: 20 * time.Second, Poll: 500 * time.Millisecond}

// Provisioner handles create, update and reissue commands.
type Provisioner struct {
	Deps
	timing Timing
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error
}

// New returns a provisioner; it fails when a dependency is missing.
func New(d Deps, t Timing) (*Provisioner, error) {
	if d.Store == nil || d.IoT == nil || d.Authority == nil || d.Sealer == nil || d.Announcer == nil || d.Notifier == nil || d.Logger == nil || d.Policy == "" {
		return nil, errors.New("provisioner: every dependency and the policy are required")
	}
	if t.ClaimTTL <= 0 || t.Poll <= 0 || t.ClaimWait < 0 {
		return nil, fmt.Errorf("provisioner: timing %+v: positive claim TTL and poll interval required", t)
	}
	return &Provisioner{Deps: d, timing: t, now: time.Now, sleep: sleepCtx}, nil
}

// WithClock replaces the clock and the sleep, for tests.
func (p *Provisioner) WithClock(now func() time.Time, sleep func(ctx context.Context, d time.Duration) error) *Provisioner {
	p.now, p.sleep = now, sleep
	return p
}

// maxRounds bounds how often a command re-reads a record that changed under
// it before the attempt fails and the queue brings it back.
const maxRounds = 4

// Handle brings the SIM to the state cmd asks for. A stale command, or one
// already carried out, changes nothing.
func (p *Provisioner) Handle(ctx context.Context, cmd events.SimCommand) error {
	switch cmd.Kind {
	case events.KindCreate, events.KindUpdate, events.KindReissue:
	default:
		return fmt.Errorf("%w: provisioner got a %s command", events.ErrInvalidCommand, cmd.Kind)
	}
	ctx, cancel := context.WithTimeout(ctx, p.timing.ClaimTTL-p.timing.ClaimTTL/4)
	defer cancel()
	var err error
	for range maxRounds {
		var w *work
		if w, err = p.begin(ctx, cmd); err != nil || w == nil {
			return err
		}
		if err = p.carryOut(ctx, w); !errors.Is(err, simrec.ErrConflict) {
			return err
		}
		p.Logger.Info("record changed during the command; reading it again", "iccid", cmd.ICCID)
	}
	return err
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
	if w.cmd.Kind == events.KindReissue {
		return p.reissue(ctx, w)
	}
	return p.enable(ctx, w)
}

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
	w.rec.ClaimedBy, w.rec.ClaimedUntil, w.rec.LastFailure = "", time.Time{}, nil
	return p.save(ctx, w, stepName)
}

// announce publishes the outcome; the SIM is provisioned either way, so a
// lost announcement is logged, never retried into a second provisioning.
func (p *Provisioner) announce(ctx context.Context, w *work, msg string) {
	n := events.NewNotification(p.now(), w.rec.ICCID, w.rec.IP, msg)
	if err := p.Announcer.Announce(ctx, n); err != nil {
		p.Logger.Error("announcement not sent", "iccid", w.rec.ICCID, "error", err)
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
