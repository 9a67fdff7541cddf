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
	"log/slog"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/iotcore/iotfake"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/services/deactivator/internal/app"
)

const sim = "8988280666000000001"

type world struct {
	t     *testing.T
	iot   *iotfake.IoT
	store *simstore.Memory
	notes *recorder
	d     *app.Deactivator
	now   time.Time
}

func newWorld(t *testing.T) *world {
	w := &world{t: t, iot: iotfake.New(), store: simstore.NewMemory(), notes: &recorder{}, now: time.Unix(1_800_000_000, 0)}
	w.d = app.New(w.store, w.iot, w.notes, slog.New(slog.DiscardHandler), app.Timing{ClaimTTL: time.Minute, ClaimWait: 5 * time.Second, Poll: time.Second}).
		WithClock(func() time.Time { return w.now }, func(_ context.Context, d time.Duration) error { w.now = w.now.Add(d); return nil })
	return w
}

// registered registers a fresh certificate in the fake.
func (w *world) registered(register bool) *simrec.Credentials {
	w.t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: sim}, NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	c := &simrec.Credentials{PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), KeyCiphertext: []byte{1}}
	sum := sha256.Sum256(der)
	c.ID = hex.EncodeToString(sum[:])
	if register {
		arn, _, err := w.iot.Register(context.Background(), c.PEM, "CA")
		if err != nil {
			w.t.Fatal(err)
		}
		c.ARN = arn
	}
	return c
}

// active stores an active SIM with its certificate (and one being issued).
func (w *world) active(next *simrec.Credentials) simrec.Record {
	rec := simrec.Record{ICCID: sim, IP: "10.0.0.1", Status: "Enabled", ThingName: sim, Cert: w.registered(true), Next: next, LastCommand: "create-1"}
	rec.SetState(simrec.StateActive)
	created, err := w.store.Create(context.Background(), rec)
	if err != nil {
		w.t.Fatal(err)
	}
	return created
}

func command(kind events.Kind, rec simrec.Record) events.SimCommand {
	return events.SimCommand{Kind: kind, ICCID: sim, Status: "Disabled", BaseVersion: rec.Version, BaseCommand: rec.LastCommand, ID: string(kind) + "-1"}
}

func TestDisableSetsEveryNamedCertificateInactive(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	next := w.registered(true)
	rec := w.active(next)
	if err := w.d.Handle(context.Background(), command(events.KindDisable, rec)); err != nil {
		t.Fatal(err)
	}
	got, _ := w.store.Get(context.Background(), sim)
	if got.Active || got.CurrentState() != simrec.StateDisabled || got.Status != "Disabled" || got.ClaimedBy != "" {
		t.Fatalf("record %+v", got)
	}
	for _, id := range []string{rec.CertificateID(), next.ID} {
		if st := w.iot.Status(id); st != types.CertificateStatusInactive {
			t.Errorf("certificate %s is %s", id, st)
		}
	}
	if !slices.Equal(w.notes.successes(), []string{events.MessageDisabled}) {
		t.Fatalf("notes %v", w.notes.successes())
	}
}

// The certificate goes INACTIVE before the record says disabled: a failure
// in between leaves the record active (the redelivery finishes), never a
// usable certificate behind an inactive record.
func TestDisableFailingHalfWayIsFinishedByTheRedelivery(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	rec := w.active(nil)
	w.iot.FailNext("UpdateCertificate", iotfake.AfterEffect{Err: errors.New("boom")})
	cmd := command(events.KindDisable, rec)
	if err := w.d.Handle(context.Background(), cmd); err == nil {
		t.Fatal("want the injected failure")
	}
	if got, _ := w.store.Get(context.Background(), sim); got.CurrentState() != simrec.StateActive {
		t.Fatalf("record says %s before the command finished", got.CurrentState())
	}
	if err := w.d.Handle(context.Background(), cmd); err != nil {
		t.Fatal(err)
	}
	if got, _ := w.store.Get(context.Background(), sim); got.Active || got.ClaimedBy != "" {
		t.Fatalf("record %+v", got)
	}
}

// Revoke: the current certificate REVOKED; one being issued REVOKED and
// queued for detaching when IoT Core knows it, dropped when it does not.
func TestRevoke(t *testing.T) {
	t.Parallel()
	for _, registered := range []bool{false, true} {
		w := newWorld(t)
		next := w.registered(registered)
		rec := w.active(next)
		if err := w.d.Handle(context.Background(), command(events.KindRevoke, rec)); err != nil {
			t.Fatal(err)
		}
		got, _ := w.store.Get(context.Background(), sim)
		if got.CurrentState() != simrec.StateRevoked || got.Next != nil || w.iot.Status(rec.CertificateID()) != types.CertificateStatusRevoked {
			t.Fatalf("registered=%v: record %s next %v, certificate %s", registered, got.CurrentState(), got.Next, w.iot.Status(rec.CertificateID()))
		}
		if registered != (len(got.Retiring) == 1) || (registered && w.iot.Status(next.ID) != types.CertificateStatusRevoked) {
			t.Fatalf("registered=%v: retiring %v, next %s", registered, got.Retiring, w.iot.Status(next.ID))
		}
		if !slices.Equal(w.notes.successes(), []string{events.MessageRevoked}) {
			t.Fatalf("notes %v", w.notes.successes())
		}
	}
}

// A revoked SIM disabled in 1NCE stays revoked; the status is recorded.
func TestDisableOfARevokedSIMRecordsTheStatus(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	rec := w.active(nil)
	if err := w.d.Handle(context.Background(), command(events.KindRevoke, rec)); err != nil {
		t.Fatal(err)
	}
	revoked, _ := w.store.Get(context.Background(), sim)
	if err := w.d.Handle(context.Background(), command(events.KindDisable, revoked)); err != nil {
		t.Fatal(err)
	}
	got, _ := w.store.Get(context.Background(), sim)
	if got.CurrentState() != simrec.StateRevoked || got.Status != "Disabled" || w.iot.Status(rec.CertificateID()) != types.CertificateStatusRevoked {
		t.Fatalf("record %s/%s, certificate %s", got.CurrentState(), got.Status, w.iot.Status(rec.CertificateID()))
	}
}

func TestStaleUnknownAndInvalidCommands(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	unknown := events.SimCommand{Kind: events.KindDisable, ICCID: sim}
	if err := w.d.Handle(context.Background(), unknown); err != nil {
		t.Fatal(err)
	}
	if f := w.notes.failures(); len(f) != 1 || !strings.Contains(f[0], "no record") {
		t.Fatalf("failures %v", f)
	}
	rec := w.active(nil)
	stale := command(events.KindDisable, rec)
	stale.BaseVersion, stale.BaseCommand = 0, ""
	if err := w.d.Handle(context.Background(), stale); err != nil {
		t.Fatal(err)
	}
	if got, _ := w.store.Get(context.Background(), sim); !got.Active || got.Version != rec.Version {
		t.Fatal("a stale disable changed the SIM")
	}
	if err := w.d.Handle(context.Background(), events.SimCommand{Kind: events.KindCreate, ICCID: sim}); !errors.Is(err, events.ErrInvalidCommand) {
		t.Fatalf("err = %v", err)
	}
}

func TestAnotherClaimMakesTheCommandBusy(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	rec := w.active(nil)
	rec.LastCommand, rec.ClaimedBy, rec.ClaimedUntil = "reissue-1", "reissue-1", w.now.Add(time.Hour)
	rec, _ = w.store.Update(context.Background(), rec)
	err := w.d.Handle(context.Background(), command(events.KindDisable, rec))
	if !errors.Is(err, app.ErrBusy) {
		t.Fatalf("err = %v, want ErrBusy", err)
	}
}

type recorder struct {
	mu          sync.Mutex
	ok, failing []string
}

func (r *recorder) Success(_ context.Context, _, _, msg string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ok = append(r.ok, msg)
	return nil
}

func (r *recorder) Failure(_ context.Context, _, _, msg string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failing = append(r.failing, msg)
	return nil
}

func (r *recorder) successes() []string { r.mu.Lock(); defer r.mu.Unlock(); return slices.Clone(r.ok) }
func (r *recorder) failures() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.failing)
}
