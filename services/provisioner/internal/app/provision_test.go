package app_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/iotcore"
	"github.com/simbridge/simbridge/libs/iotcore/iotfake"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/services/provisioner/internal/app"
)

const (
	sim    = "8988280666000000001"
	policy = "device-policy"
	group  = "sims"
)

// world is the provisioner on in-memory IoT Core, store and KMS.
type world struct {
	t      *testing.T
	iot    *iotfake.IoT
	store  *flakyStore
	notes  *recorder
	p      *app.Provisioner
	clock  *clock
	minted int
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, iot: iotfake.New(), store: &flakyStore{Memory: simstore.NewMemory()}, notes: &recorder{}, clock: &clock{now: time.Unix(1_800_000_000, 0)}}
	p, err := app.New(app.Deps{
		Store: w.store, IoT: w.iot, Authority: ownCA{w}, Sealer: sealer{}, Announcer: w.notes, Notifier: w.notes,
		Policy: policy, ThingGroup: group, ThingType: "sim", Logger: slog.New(slog.DiscardHandler),
	}, app.Timing{ClaimTTL: time.Minute, ClaimWait: 10 * time.Second, Poll: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	w.p = p.WithClock(w.clock.Now, w.clock.Sleep)
	return w
}

// handle delivers cmd until it succeeds (as the queue would), at most n times.
func (w *world) handle(cmd events.SimCommand, n int) error {
	var err error
	for range n {
		if err = w.p.Handle(context.Background(), cmd); err == nil {
			return nil
		}
	}
	return err
}

func (w *world) record() simrec.Record {
	w.t.Helper()
	rec, err := w.store.Get(context.Background(), sim)
	if err != nil {
		w.t.Fatal(err)
	}
	return rec
}

// serving checks the invariant for the SIM: active, settled, its one
// certificate ACTIVE, attached to its Thing with the policy; every other
// certificate in IoT Core named by no record is absent.
func (w *world) serving() simrec.Record {
	w.t.Helper()
	rec := w.record()
	if !rec.Active || rec.CurrentState() != simrec.StateActive || rec.Next != nil || len(rec.Retiring) > 0 || rec.ClaimedBy != "" {
		w.t.Fatalf("record not settled active: %+v", rec)
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
		if c != id && w.iot.Status(c) != types.CertificateStatusRevoked {
			w.t.Fatalf("certificate %s (%s) outlives the attempt that made it", c, w.iot.Status(c))
		}
	}
	return rec
}

func create(ip string) events.SimCommand {
	return events.SimCommand{Kind: events.KindCreate, ICCID: sim, IP: ip, Status: "Enabled", IMSI: "901405100000001", Label: "tank 7"}
}

// after is a command computed against the record as it is now.
func (w *world) after(kind events.Kind, ip string) events.SimCommand {
	rec := w.record()
	return events.SimCommand{Kind: kind, ICCID: sim, IP: ip, Status: "Enabled", BaseVersion: rec.Version, BaseCommand: rec.LastCommand,
		ID: fmt.Sprintf("%s-%d-%s", kind, rec.Version, ip)}
}

func TestNewSIMBecomesOnboardable(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	if err := w.handle(create("10.0.0.1"), 1); err != nil {
		t.Fatal(err)
	}
	rec := w.serving()
	if rec.IP != "10.0.0.1" || rec.Cert.Authority != simrec.AuthorityOwn || !rec.HasCredentials() {
		t.Fatalf("record %+v", rec)
	}
	attrs, groups, _ := w.iot.Thing(sim)
	if attrs[iotcore.ManagedAttribute] != iotcore.ManagedValue || attrs["imsi"] != "901405100000001" || attrs["label"] != "tank_7" ||
		!slices.Equal(groups, []string{group}) {
		t.Fatalf("thing attributes %v groups %v", attrs, groups)
	}
	if got := w.notes.announced(); !slices.Equal(got, []string{events.MessageEnabled}) {
		t.Fatalf("announced %v", got)
	}
	// Delivered again: nothing more happens.
	calls := w.iot.Calls("RegisterCertificate")
	if err := w.handle(create("10.0.0.1"), 1); err != nil || w.iot.Calls("RegisterCertificate") != calls || w.minted != 1 {
		t.Fatalf("a redelivery after success did work again: %v", err)
	}
}

// Every step may fail — before or after the call took effect — and the
// redelivered command finishes from the record: one certificate, ACTIVE,
// none left over.
func TestEveryFailedStepIsFinishedByTheRedelivery(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	steps := []string{"DescribeThing", "CreateThing", "AddThingToThingGroup", "RegisterCertificate", "AttachThingPrincipal", "AttachPolicy"}
	for _, op := range steps {
		for _, after := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s after=%v", op, after), func(t *testing.T) {
				t.Parallel()
				w := newWorld(t)
				var err error = boom
				if after {
					err = iotfake.AfterEffect{Err: boom}
				}
				w.iot.FailNext(op, err)
				if got := w.p.Handle(context.Background(), create("10.0.0.1")); got == nil {
					t.Fatal("the failed step did not fail the attempt")
				}
				w.clock.advance(2 * time.Minute) // the claim expires; the same command may take over anyway
				if err := w.handle(create("10.0.0.1"), 2); err != nil {
					t.Fatal(err)
				}
				w.serving()
				if w.minted != 1 {
					t.Fatalf("minted %d certificates, want the one the record named", w.minted)
				}
			})
		}
	}
	for n := 1; n <= 3; n++ {
		t.Run(fmt.Sprintf("record write %d", n), func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.store.failWrite = n
			if err := w.p.Handle(context.Background(), create("10.0.0.1")); err == nil {
				t.Fatal("the failed write did not fail the attempt")
			}
			if err := w.handle(create("10.0.0.1"), 2); err != nil {
				t.Fatal(err)
			}
			w.serving()
		})
	}
}

func TestReEnableReactivatesTheSameCertificate(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	if err := w.handle(create("10.0.0.1"), 1); err != nil {
		t.Fatal(err)
	}
	first := w.record().CertificateID()
	disable(t, w)
	if err := w.handle(w.after(events.KindCreate, "10.0.0.2"), 1); err != nil {
		t.Fatal(err)
	}
	rec := w.serving()
	if rec.CertificateID() != first || rec.IP != "10.0.0.2" {
		t.Fatalf("re-enabled with %s at %s, want %s", rec.CertificateID(), rec.IP, first)
	}
}

// A certificate IoT Core will not activate again (REVOKED meanwhile) is
// replaced by a fresh one, the old one detached.
func TestReEnableOfARevokedCertificateIssuesAFreshOne(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	if err := w.handle(create("10.0.0.1"), 1); err != nil {
		t.Fatal(err)
	}
	first := w.record().CertificateID()
	disable(t, w)
	if err := w.iot.SetStatus(context.Background(), first, iotcore.StatusRevoked); err != nil {
		t.Fatal(err)
	}
	if err := w.handle(w.after(events.KindCreate, "10.0.0.1"), 1); err != nil {
		t.Fatal(err)
	}
	if rec := w.serving(); rec.CertificateID() == first {
		t.Fatal("the revoked certificate came back")
	}
}

func TestIPChangeMovesTheRecordOnly(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	if err := w.handle(create("10.0.0.1"), 1); err != nil {
		t.Fatal(err)
	}
	before := w.record()
	if err := w.handle(w.after(events.KindUpdate, "10.0.0.9"), 1); err != nil {
		t.Fatal(err)
	}
	rec := w.serving()
	if rec.IP != "10.0.0.9" || rec.CertificateID() != before.CertificateID() {
		t.Fatalf("record %+v", rec)
	}
	if got := w.notes.announced(); !slices.Equal(got, []string{events.MessageEnabled, events.MessageUpdated}) {
		t.Fatalf("announced %v", got)
	}
}

// A command computed against an older state changes nothing.
func TestStaleCommandsChangeNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	if err := w.handle(create("10.0.0.1"), 1); err != nil {
		t.Fatal(err)
	}
	old := w.after(events.KindUpdate, "10.0.0.5")
	if err := w.handle(w.after(events.KindUpdate, "10.0.0.6"), 1); err != nil {
		t.Fatal(err)
	}
	late := create("10.0.0.7") // computed before the record existed
	for _, cmd := range []events.SimCommand{old, late} {
		if err := w.handle(cmd, 1); err != nil {
			t.Fatal(err)
		}
	}
	if rec := w.serving(); rec.IP != "10.0.0.6" {
		t.Fatalf("a stale command moved the SIM to %s", rec.IP)
	}
}

// Another command's claim is waited for; one that does not end makes the
// attempt fail as busy (transient: the queue brings it back).
func TestAClaimKeepsOtherCommandsWaiting(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	if err := w.handle(create("10.0.0.1"), 1); err != nil {
		t.Fatal(err)
	}
	rec := w.record()
	rec.LastCommand, rec.ClaimedBy, rec.ClaimedUntil = "someone-else", "someone-else", w.clock.Now().Add(time.Hour)
	if _, err := w.store.Memory.Update(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	cmd := w.after(events.KindUpdate, "10.0.0.2")
	cmd.BaseCommand = "someone-else"
	cmd.BaseVersion = rec.Version
	err := w.p.Handle(context.Background(), cmd)
	if !errors.Is(err, app.ErrBusy) {
		t.Fatalf("err = %v, want ErrBusy", err)
	}
	rec = w.record()
	rec.ClaimedUntil = w.clock.Now() // the claimant died
	if _, err := w.store.Memory.Update(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	if err := w.handle(cmd, 1); err != nil {
		t.Fatal(err)
	}
	if got := w.serving(); got.IP != "10.0.0.2" {
		t.Fatalf("IP %s", got.IP)
	}
}

func TestReissueReplacesAndRevokesTheCertificate(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	if err := w.handle(create("10.0.0.1"), 1); err != nil {
		t.Fatal(err)
	}
	old := w.record().CertificateID()
	reissue := w.after(events.KindReissue, "")
	w.iot.FailNext("UpdateCertificate", errors.New("boom")) // stops after the switch, while revoking
	if err := w.p.Handle(context.Background(), reissue); err == nil {
		t.Fatal("want the injected failure")
	}
	if rec := w.record(); rec.CertificateID() == old || len(rec.Retiring) != 1 {
		t.Fatalf("the record must point to the new certificate before the old one is revoked: %+v", rec)
	}
	if err := w.handle(reissue, 1); err != nil {
		t.Fatal(err)
	}
	rec := w.serving()
	if rec.CertificateID() == old || w.iot.Status(old) != types.CertificateStatusRevoked || w.minted != 2 {
		t.Fatalf("new %s, old %s is %s, minted %d", rec.CertificateID(), old, w.iot.Status(old), w.minted)
	}
	if got := w.notes.announced(); got[len(got)-1] != events.MessageReissued {
		t.Fatalf("announced %v", got)
	}
}

func TestReissueOfAnInactiveSIMIsRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	if err := w.handle(create("10.0.0.1"), 1); err != nil {
		t.Fatal(err)
	}
	disable(t, w)
	before := w.record()
	if err := w.handle(w.after(events.KindReissue, ""), 1); err != nil {
		t.Fatal(err)
	}
	if after := w.record(); after.Version != before.Version || w.minted != 1 {
		t.Fatal("a refused reissue changed the SIM")
	}
	if f := w.notes.failures(); len(f) != 1 || !strings.Contains(f[0], "refused") {
		t.Fatalf("failure notifications %v", f)
	}
}

func TestInvalidKindsAreRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	err := w.p.Handle(context.Background(), events.SimCommand{Kind: events.KindDisable, ICCID: sim})
	if !errors.Is(err, events.ErrInvalidCommand) {
		t.Fatalf("err = %v", err)
	}
}

// disable does what the deactivator does to a SIM.
func disable(t *testing.T, w *world) {
	t.Helper()
	rec := w.record()
	if err := w.iot.SetStatus(context.Background(), rec.CertificateID(), iotcore.StatusInactive); err != nil {
		t.Fatal(err)
	}
	rec.SetState(simrec.StateDisabled)
	rec.LastCommand = fmt.Sprintf("disable-%d", rec.Version)
	if _, err := w.store.Memory.Update(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
}

// ownCA mints self-signed certificates in memory, as the KMS-backed CA does.
type ownCA struct{ w *world }

func (ownCA) Name() string { return simrec.AuthorityOwn }

func (o ownCA) Mint(context.Context, string) (app.Minted, error) {
	o.w.minted++
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(o.w.minted)), Subject: pkix.Name{CommonName: sim}, NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return app.Minted{}, err
	}
	sum := sha256.Sum256(der)
	return app.Minted{ID: hex.EncodeToString(sum[:]), CertPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), KeyPEM: "KEY"}, nil
}

func (o ownCA) Register(ctx context.Context, c simrec.Credentials) (string, bool, error) {
	arn, existed, err := o.w.iot.Register(ctx, c.PEM, "CA")
	return arn, !existed, err
}

type sealer struct{}

func (sealer) Seal(_ context.Context, iccid string, b []byte) ([]byte, error) {
	return append([]byte(iccid+":"), b...), nil
}

// recorder keeps announcements and failure notifications.
type recorder struct {
	mu    sync.Mutex
	msgs  []string
	fails []string
}

func (r *recorder) Announce(_ context.Context, n events.Notification) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, n.Message)
	return nil
}

func (r *recorder) Failure(_ context.Context, _, _, msg string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fails = append(r.fails, msg)
	return nil
}

func (r *recorder) announced() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}
func (r *recorder) failures() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.fails)
}

// flakyStore fails its failWrite-th write (1-based) once.
type flakyStore struct {
	*simstore.Memory
	mu        sync.Mutex
	writes    int
	failWrite int
}

func (s *flakyStore) fail() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.writes == s.failWrite {
		return errors.New("dynamodb: internal server error")
	}
	return nil
}

func (s *flakyStore) Create(ctx context.Context, r simrec.Record) (simrec.Record, error) {
	if err := s.fail(); err != nil {
		return simrec.Record{}, err
	}
	return s.Memory.Create(ctx, r)
}

func (s *flakyStore) Update(ctx context.Context, r simrec.Record) (simrec.Record, error) {
	if err := s.fail(); err != nil {
		return simrec.Record{}, err
	}
	return s.Memory.Update(ctx, r)
}

// clock is a test clock; Sleep advances it.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Sleep(_ context.Context, d time.Duration) error { c.advance(d); return nil }

func (c *clock) advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }
