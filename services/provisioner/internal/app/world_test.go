package app_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/iotca"
	"github.com/simbridge/simbridge/libs/iotcore"
	"github.com/simbridge/simbridge/libs/iotcore/iotfake"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simrec/simrectest"
	"github.com/simbridge/simbridge/services/provisioner/internal/adapters"
	"github.com/simbridge/simbridge/services/provisioner/internal/app"
)

const (
	sim    = "8988280666000000001"
	policy = "device-policy"
	group  = "sims"
)

var timing = simrec.ClaimTiming{TTL: time.Minute, Wait: 10 * time.Second, Poll: time.Second}

// world is the provisioner on the in-memory IoT Core (through the real
// adapters), store, KMS and SNS, with a clock that moves only when slept on.
type world struct {
	t         *testing.T
	authority string
	iot       *iotfake.IoT
	store     *simrectest.Store
	clock     *simrectest.Clock
	ca        *ownCA
	sealer    *sealer
	notes     *simrectest.Notes
	p         *app.Provisioner
	// last is a command a case keeps for later (to deliver it again);
	// had the record as it was.
	last events.SimCommand
	had  simrec.Record
}

func newWorld(t *testing.T, authority string) *world {
	t.Helper()
	w := &world{t: t, authority: authority, iot: iotfake.New(), store: simrectest.NewStore(), clock: simrectest.NewClock(),
		sealer: &sealer{}, notes: &simrectest.Notes{}}
	w.ca = &ownCA{iot: w.iot}
	things, err := adapters.NewIoT(w.iot, policy, group, "sim")
	if err != nil {
		t.Fatal(err)
	}
	var ca app.Authority = w.ca
	if authority == simrec.AuthorityAWS {
		ca = adapters.AmazonCA{IoT: w.iot}
	}
	w.p, err = app.New(app.Deps{Store: w.store, IoT: things, Authority: ca, Sealer: w.sealer, Announcer: w.notes, Notifier: w.notes,
		Logger: slog.New(slog.DiscardHandler), Clock: w.clock}, timing)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// handle delivers cmd once, as the queue does.
func (w *world) handle(cmd events.SimCommand) error { return w.p.Handle(context.Background(), cmd) }

// must delivers cmd and fails the test when it fails.
func (w *world) must(cmd events.SimCommand) {
	w.t.Helper()
	if err := w.handle(cmd); err != nil {
		w.t.Fatalf("%s: %v", cmd.Kind, err)
	}
}

func (w *world) record() simrec.Record { return w.store.Record(w.t, sim) }

// write stores a change made behind the provisioner's back (another
// service, an operator).
func (w *world) write(change func(r *simrec.Record)) { w.store.Change(w.t, sim, change) }

// minted is how many certificates the authority made.
func (w *world) minted() int {
	if w.authority == simrec.AuthorityAWS {
		return len(w.iot.Certificates())
	}
	return w.ca.count()
}

func create(ip string) events.SimCommand {
	return events.SimCommand{Kind: events.KindCreate, ICCID: sim, IP: ip, Status: "Enabled", IMSI: "901405100000001", Label: "tank 7"}
}

// after is a command computed against the record as it is now, as
// sim-poller and operators compute them.
func (w *world) after(kind events.Kind, ip string) events.SimCommand {
	rec := w.record()
	return events.SimCommand{Kind: kind, ICCID: sim, IP: ip, Status: "Enabled", BaseVersion: rec.Version, BaseCommand: rec.LastCommand,
		ID: fmt.Sprintf("%s-%d-%s", kind, rec.Version, ip)}
}

// Given states of the SIM.

func (w *world) active() { w.must(create("10.0.0.1")) }
func (w *world) disabled() {
	w.active()
	w.deactivate(iotcore.StatusInactive, (*simrec.Record).Disable)
}
func (w *world) revoked() { w.active(); w.deactivate(iotcore.StatusRevoked, (*simrec.Record).Revoke) }

// deactivate does to the SIM what the deactivator does.
func (w *world) deactivate(status types.CertificateStatus, change func(r *simrec.Record)) {
	w.t.Helper()
	if err := w.iot.SetStatus(context.Background(), w.record().CertificateID(), status); err != nil {
		w.t.Fatal(err)
	}
	w.write(func(r *simrec.Record) {
		change(r)
		r.LastCommand = fmt.Sprintf("deactivate-%d", r.Version)
	})
}

// certificateDeleted deletes the SIM's certificate from IoT Core behind
// simbridge's back (an operator did).
func (w *world) certificateDeleted() { w.iot.Delete(w.record().CertificateID()) }

// claim makes another command hold the record's claim for d.
func (w *world) claim(holder string, d time.Duration) {
	w.write(func(r *simrec.Record) {
		r.LastCommand, r.ClaimedBy, r.ClaimedUntil = holder, holder, w.clock.Now().Add(d)
	})
}

// failed records a failure of command id, as the consumer does.
func (w *world) failed(id string) {
	w.t.Helper()
	if err := w.store.Memory.RecordFailure(context.Background(), sim, simrec.Failure{Step: "x", Command: id}); err != nil {
		w.t.Fatal(err)
	}
}

// serving checks the invariant for the SIM: active at ip, settled, its one
// certificate ACTIVE, attached to its Thing with the policy; every other
// certificate in IoT Core is REVOKED and detached, or (Amazon's CA, an
// answer lost for good) INACTIVE and attached to nothing.
func (w *world) serving(ip string) simrec.Record {
	w.t.Helper()
	rec := w.record()
	if !rec.Active || rec.CurrentState() != simrec.StateActive || !rec.Settled() || rec.IP != ip || !rec.HasCredentials() {
		w.t.Fatalf("record not settled active at %s: %+v", ip, rec)
	}
	if rec.Cert.Authority != w.authority {
		w.t.Fatalf("certificate by %s, want %s", rec.Cert.Authority, w.authority)
	}
	id := rec.CertificateID()
	if st := w.iot.Status(id); st != types.CertificateStatusActive {
		w.t.Fatalf("certificate %s is %q", id, st)
	}
	if !slices.Contains(w.iot.Policies(id), policy) {
		w.t.Fatalf("certificate without the policy")
	}
	ps, _ := w.iot.ThingPrincipals(context.Background(), sim)
	if !slices.Equal(ps, []string{rec.CertificateARN()}) {
		w.t.Fatalf("thing principals %v, want only %s", ps, rec.CertificateARN())
	}
	for _, c := range w.iot.Certificates() {
		switch st := w.iot.Status(c); {
		case c == id, st == types.CertificateStatusRevoked:
		case w.authority == simrec.AuthorityAWS && st == types.CertificateStatusInactive && len(w.iot.Policies(c)) == 0:
		default:
			w.t.Fatalf("certificate %s (%s) outlives the attempt that made it", c, st)
		}
	}
	return rec
}

// safe checks what must hold after any attempt, finished or not: every
// ACTIVE certificate is one the record names, and an active record's
// certificate is ACTIVE (a SIM in key mode device has none until its
// device enrols).
func (w *world) safe() {
	w.t.Helper()
	rec, err := w.store.Memory.Get(context.Background(), sim)
	if errors.Is(err, simrec.ErrNotFound) {
		return
	}
	named := map[string]bool{}
	for _, c := range []*simrec.Credentials{rec.Cert, rec.Next} {
		if c != nil {
			named[c.ID] = true
		}
	}
	for _, arn := range rec.Retiring {
		named[iotcore.CertificateID(arn)] = true
	}
	for _, c := range w.iot.Certificates() {
		if w.iot.Status(c) == types.CertificateStatusActive && !named[c] {
			w.t.Fatalf("certificate %s is ACTIVE and no record names it", c)
		}
	}
	if rec.Active && rec.Cert != nil && w.iot.Status(rec.CertificateID()) != types.CertificateStatusActive {
		w.t.Fatalf("the record is active with a %q certificate", w.iot.Status(rec.CertificateID()))
	}
}

// retired checks that a replaced certificate is REVOKED and detached.
func (w *world) retired(certID string) {
	w.t.Helper()
	if st := w.iot.Status(certID); st != types.CertificateStatusRevoked && st != "" {
		w.t.Fatalf("replaced certificate %s is %s", certID, st)
	}
	ps, _ := w.iot.ThingPrincipals(context.Background(), sim)
	for _, p := range ps {
		if iotcore.CertificateID(p) == certID {
			w.t.Fatalf("replaced certificate %s still attached", certID)
		}
	}
}

// ownCA mints self-signed certificates in memory, as the KMS-backed CA does,
// and registers them with the fake; failNext makes the next Mint fail.
type ownCA struct {
	iot      *iotfake.IoT
	mu       sync.Mutex
	minted   int
	failNext error
}

func (*ownCA) Name() string { return simrec.AuthorityOwn }

func (o *ownCA) Mint(context.Context, string) (app.Minted, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.failNext; err != nil {
		o.failNext = nil
		return app.Minted{}, err
	}
	certPEM, id, err := iotfake.NewCertificate(sim)
	if err != nil {
		return app.Minted{}, err
	}
	o.minted++
	return app.Minted{ID: id, CertPEM: certPEM, KeyPEM: "KEY"}, nil
}

// Certify checks the request as the KMS-backed CA does and certifies its
// key; failNext fails it like Mint.
func (o *ownCA) Certify(_ context.Context, iccid string, csr []byte) (app.Minted, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.failNext; err != nil {
		o.failNext = nil
		return app.Minted{}, err
	}
	der, err := iotca.DecodeCSR(csr)
	if err != nil {
		return app.Minted{}, fmt.Errorf("%w: %w", app.ErrCannotCertify, err)
	}
	req, err := iotca.CheckCSR(der)
	if err != nil {
		return app.Minted{}, fmt.Errorf("%w: %w", app.ErrCannotCertify, err)
	}
	certPEM, id, err := iotfake.CertificateFor(iccid, req.PublicKey)
	if err != nil {
		return app.Minted{}, err
	}
	o.minted++
	return app.Minted{ID: id, CertPEM: certPEM}, nil
}

func (o *ownCA) Register(ctx context.Context, c simrec.Credentials) (string, bool, error) {
	arn, existed, err := o.iot.Register(ctx, c.PEM, "CA")
	return arn, !existed, err
}

func (o *ownCA) count() int { o.mu.Lock(); defer o.mu.Unlock(); return o.minted }

// sealer "encrypts" with a prefix; failNext makes the next Seal fail.
type sealer struct {
	mu       sync.Mutex
	failNext error
}

func (s *sealer) Seal(_ context.Context, iccid string, b []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.failNext; err != nil {
		s.failNext = nil
		return nil, err
	}
	return append([]byte(iccid+":"), b...), nil
}
