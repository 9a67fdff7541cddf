// Package storetest is the contract every SIM store implementation must meet;
// the same cases run against DynamoDB (through the emulator) and the in-memory
// store, so unit tests on the memory store stay honest.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/simrec"
)

// Store is the behaviour under contract.
type Store interface {
	Get(ctx context.Context, iccid string) (simrec.Record, error)
	Peek(ctx context.Context, iccid string) (simrec.Summary, error)
	GetMany(ctx context.Context, iccids []string, peek bool) (map[string]simrec.Record, error)
	FindByIP(ctx context.Context, ip string) ([]simrec.Record, error)
	Create(ctx context.Context, r simrec.Record) (simrec.Record, error)
	Update(ctx context.Context, r simrec.Record) (simrec.Record, error)
	Scan(ctx context.Context, fn func(simrec.Summary) error) error
	RecordFailure(ctx context.Context, iccid string, f simrec.Failure) error
	ClearFailure(ctx context.Context, iccid, command string) error
	RecordFetch(ctx context.Context, iccid string, at time.Time) error
}

// Run runs the contract against fresh stores made by newStore.
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	cases := map[string]func(t *testing.T, s Store){
		"create then get":              createThenGet,
		"create twice conflicts":       createTwice,
		"get missing":                  getMissing,
		"peek reads the summary":       peekSummary,
		"get many in one go":           getMany,
		"update bumps version":         updateBumpsVersion,
		"stale update conflicts":       staleUpdate,
		"find by ip":                   findByIP,
		"ip change moves the index":    ipChange,
		"scan sees every record":       scanAll,
		"scan stops on callback error": scanStops,
		"one spelling per ip":          oneSpelling,
		"side notes keep the version":  sideNotes,
		"adopted credentials verbatim": adoptedVerbatim,
		"device keys are never stored": deviceKeys,
	}
	for name, fn := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, newStore(t))
		})
	}
}

func rec(iccid, ip string) simrec.Record {
	return simrec.Record{
		ICCID: iccid, IP: ip, Active: true, State: simrec.StateActive, Status: "Enabled", ThingName: iccid,
		Cert: &simrec.Credentials{ID: "cid-" + iccid, ARN: "arn:cert/" + iccid, PEM: "PEM", KeyCiphertext: []byte{1, 2, 3},
			Authority: simrec.AuthorityOwn, Command: "c1"},
	}
}

func mustCreate(t *testing.T, s Store, r simrec.Record) simrec.Record {
	t.Helper()
	got, err := s.Create(context.Background(), r)
	if err != nil {
		t.Fatalf("create %s: %v", r.ICCID, err)
	}
	return got
}

func createThenGet(t *testing.T, s Store) {
	r := rec("8988280666000000001", "10.0.0.1")
	issued := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	r.SetState(simrec.StatePending)
	r.Next = &simrec.Credentials{ID: "next", PEM: "NEXT", KeyCiphertext: []byte{4}, Authority: simrec.AuthorityOwn, IssuedAt: issued}
	r.Retiring = []string{"arn:cert/old"}
	r.LastCommand, r.ClaimedBy, r.ClaimedUntil = "cmd-1", "cmd-1", issued
	r.LastFailure = &simrec.Failure{Step: "register certificate", Reason: "throttled", At: issued, Attempts: 2}
	created := mustCreate(t, s, r)
	if created.Version != 1 || created.CreatedAt.IsZero() {
		t.Fatalf("create must set version 1 and timestamps: %+v", created)
	}
	got, err := s.Get(context.Background(), "8988280666000000001")
	if err != nil {
		t.Fatal(err)
	}
	if got.IP != "10.0.0.1" || got.Active || got.State != simrec.StatePending || got.CertificateID() != "cid-8988280666000000001" ||
		string(got.Cert.KeyCiphertext) != "\x01\x02\x03" || got.Cert.Command != "c1" || got.Version != 1 || !got.HasCredentials() {
		t.Fatalf("round trip lost data: %+v", got)
	}
	if n := got.Next; n == nil || n.ID != "next" || n.PEM != "NEXT" || string(n.KeyCiphertext) != "\x04" || !n.IssuedAt.Equal(issued) {
		t.Fatalf("round trip lost the certificate being issued: %+v", got.Next)
	}
	if len(got.Retiring) != 1 || got.LastCommand != "cmd-1" || got.ClaimedBy != "cmd-1" || !got.ClaimedUntil.Equal(issued) ||
		got.LastFailure == nil || got.LastFailure.Attempts != 2 {
		t.Fatalf("round trip lost the work in progress: %+v", got)
	}
}

// adoptedVerbatim: a certificate taken over from the reference keeps its
// PEM byte for byte (line endings and trailing newline included) and its
// adoption marks, since the device must get exactly what it got before.
func adoptedVerbatim(t *testing.T, s Store) {
	r := rec("8988280666000000009", "10.0.0.9")
	pem := "-----BEGIN CERTIFICATE-----\nMIIB\r\nAAAA==\n-----END CERTIFICATE-----\n"
	r.Cert.PEM, r.Cert.Authority, r.Cert.AdoptedFrom, r.Cert.KeySHA256 = pem, simrec.AuthorityAWS, "sim-metastore", "ab12"
	mustCreate(t, s, r)
	got, err := s.Get(context.Background(), r.ICCID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Cert.PEM != pem || !got.Cert.Adopted() || got.Cert.AdoptedFrom != "sim-metastore" || got.Cert.KeySHA256 != "ab12" ||
		got.Cert.Authority != simrec.AuthorityAWS {
		t.Fatalf("adopted credentials changed on the way: %+v", got.Cert)
	}
	if plain := rec("8988280666000000010", "10.0.0.10"); plain.Cert.Adopted() {
		t.Fatal("credentials simbridge issued count as adopted")
	}
}

func createTwice(t *testing.T, s Store) {
	mustCreate(t, s, rec("8988280666000000002", "10.0.0.2"))
	if _, err := s.Create(context.Background(), rec("8988280666000000002", "10.0.0.3")); !errors.Is(err, simrec.ErrConflict) {
		t.Fatalf("second create: want ErrConflict, got %v", err)
	}
}

func getMissing(t *testing.T, s Store) {
	if _, err := s.Get(context.Background(), "8988280666000000099"); !errors.Is(err, simrec.ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
}

func updateBumpsVersion(t *testing.T, s Store) {
	r := mustCreate(t, s, rec("8988280666000000003", "10.0.0.3"))
	r.Active = false
	updated, err := s.Update(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if updated.Version != 2 {
		t.Fatalf("version = %d, want 2", updated.Version)
	}
	got, _ := s.Get(context.Background(), r.ICCID)
	if got.Active || got.Version != 2 {
		t.Fatalf("update not stored: %+v", got)
	}
}

func staleUpdate(t *testing.T, s Store) {
	r := mustCreate(t, s, rec("8988280666000000004", "10.0.0.4"))
	first := r
	first.Status = "Disabled"
	if _, err := s.Update(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	stale := r
	stale.IP = "10.9.9.9"
	if _, err := s.Update(context.Background(), stale); !errors.Is(err, simrec.ErrConflict) {
		t.Fatalf("stale update: want ErrConflict, got %v", err)
	}
	got, _ := s.Get(context.Background(), r.ICCID)
	if got.IP != "10.0.0.4" || got.Status != "Disabled" {
		t.Fatalf("stale write leaked through: %+v", got)
	}
}

func findByIP(t *testing.T, s Store) {
	mustCreate(t, s, rec("8988280666000000005", "10.0.0.5"))
	mustCreate(t, s, rec("8988280666000000006", "10.0.0.6"))
	mustCreate(t, s, rec("8988280666000000007", ""))
	got, err := s.FindByIP(context.Background(), "10.0.0.6")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ICCID != "8988280666000000006" || !got[0].HasCredentials() {
		t.Fatalf("FindByIP = %+v", got)
	}
	if none, _ := s.FindByIP(context.Background(), "10.0.0.99"); len(none) != 0 {
		t.Fatalf("unknown ip found %+v", none)
	}
	mustCreate(t, s, rec("8988280666000000008", "10.0.0.6"))
	if two, _ := s.FindByIP(context.Background(), "10.0.0.6"); len(two) != 2 {
		t.Fatalf("a shared ip must return both claimants, got %d", len(two))
	}
}

func ipChange(t *testing.T, s Store) {
	r := mustCreate(t, s, rec("8988280666000000009", "10.0.1.1"))
	r.IP = "10.0.1.2"
	if _, err := s.Update(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if old, _ := s.FindByIP(context.Background(), "10.0.1.1"); len(old) != 0 {
		t.Fatalf("old ip still resolves: %+v", old)
	}
	if cur, _ := s.FindByIP(context.Background(), "10.0.1.2"); len(cur) != 1 {
		t.Fatalf("new ip does not resolve: %+v", cur)
	}
}

func scanAll(t *testing.T, s Store) {
	want := map[string]bool{}
	for _, id := range []string{"8988280666000000010", "8988280666000000011", "8988280666000000012"} {
		r := rec(id, "")
		r.SetState(map[bool]simrec.State{true: simrec.StateActive, false: simrec.StateDisabled}[id != "8988280666000000011"])
		r.LastCommand = "c-" + id
		mustCreate(t, s, r)
		want[id] = r.Active
	}
	got := map[string]bool{}
	err := s.Scan(context.Background(), func(sum simrec.Summary) error {
		got[sum.ICCID] = sum.Active
		if sum.Version != 1 || sum.Status != "Enabled" || sum.State != map[bool]simrec.State{true: simrec.StateActive, false: simrec.StateDisabled}[sum.Active] {
			t.Errorf("summary incomplete: %+v", sum)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("scan saw %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("scan saw %v, want %v", got, want)
		}
	}
}

func scanStops(t *testing.T, s Store) {
	mustCreate(t, s, rec("8988280666000000013", ""))
	mustCreate(t, s, rec("8988280666000000014", ""))
	stop := errors.New("stop")
	calls := 0
	err := s.Scan(context.Background(), func(simrec.Summary) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("scan must stop at the first error: err=%v calls=%d", err, calls)
	}
}

func oneSpelling(t *testing.T, s Store) {
	r := rec("8988280666000000015", "::ffff:10.0.2.1")
	created := mustCreate(t, s, r)
	if created.IP != "10.0.2.1" {
		t.Fatalf("stored %q, want the IPv4 spelling", created.IP)
	}
	for _, ip := range []string{"10.0.2.1", "::ffff:10.0.2.1"} {
		if got, err := s.FindByIP(context.Background(), ip); err != nil || len(got) != 1 {
			t.Fatalf("FindByIP(%s) = %d records, %v", ip, len(got), err)
		}
	}
	if _, err := s.Create(context.Background(), rec("8988280666000000016", "2001:db8::1")); err == nil {
		t.Fatal("an IPv6 SIM address must be refused")
	}
}

// Failures and credential fetches are written beside the versioned state:
// they never change the version, are kept by later updates (the fetch) or
// replaced by them (the failure), and are never written for unknown SIMs.
func sideNotes(t *testing.T, s Store) {
	ctx := context.Background()
	r := mustCreate(t, s, rec("8988280666000000017", "10.0.3.1"))
	at := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	if err := s.RecordFailure(ctx, r.ICCID, simrec.Failure{Step: "attach policy", Reason: "throttled", At: at, Attempts: 3, Command: "c9"}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordFetch(ctx, r.ICCID, at); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordFetch(ctx, r.ICCID, at.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx, r.ICCID)
	if got.Version != 1 || got.LastFailure == nil || got.LastFailure.Step != "attach policy" || !got.LastFetchAt.Equal(at) {
		t.Fatalf("side notes: version %d failure %+v fetch %s", got.Version, got.LastFailure, got.LastFetchAt)
	}
	if err := s.ClearFailure(ctx, r.ICCID, "other"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, r.ICCID); got.LastFailure == nil {
		t.Fatal("another command's clear removed the failure")
	}
	got.LastFailure = nil
	got.Status = "Disabled"
	updated, err := s.Update(ctx, got)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := s.Get(ctx, r.ICCID); again.LastFailure != nil || !again.LastFetchAt.Equal(at) || again.Version != updated.Version {
		t.Fatalf("after an update: failure %+v (want cleared), fetch %s (want kept)", again.LastFailure, again.LastFetchAt)
	}
	if err := s.RecordFailure(ctx, "8988280666000000099", simrec.Failure{Step: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "8988280666000000099"); err == nil {
		t.Fatal("a failure note created a record")
	}
}

func peekSummary(t *testing.T, s Store) {
	r := rec("8988280666000000031", "10.0.3.1")
	r.SetState(simrec.StateActive)
	mustCreate(t, s, r)
	got, err := s.Peek(context.Background(), r.ICCID)
	if err != nil || got.ICCID != r.ICCID || got.IP != r.IP || !got.Active || got.State != simrec.StateActive || got.Version != 1 {
		t.Fatalf("peek = %+v, %v", got, err)
	}
	if _, err := s.Peek(context.Background(), "8988280666000000032"); !errors.Is(err, simrec.ErrNotFound) {
		t.Fatalf("peek of a missing record: %v, want ErrNotFound", err)
	}
}

// deviceKeys: a SIM whose device holds its key keeps its mode and
// enrolment history, and a certificate without a sealed key stays without
// one; dropping a key removes it from the stored record.
func deviceKeys(t *testing.T, s Store) {
	ctx := context.Background()
	r := mustCreate(t, s, rec("8988280666000000011", "10.0.0.11"))
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	r.DropKeys()
	r.Cert.DeviceKey = true
	r.KeyMode = simrec.KeyModeDevice
	r.Enrolled(simrec.Enrolment{At: at, CertificateID: "cid-enrolled", Command: "enrol-1"})
	if _, err := s.Update(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, r.ICCID)
	if err != nil {
		t.Fatal(err)
	}
	if got.HoldsKey() || !got.HasCredentials() || got.Cert.KeyCiphertext != nil || !got.Cert.DeviceKey {
		t.Fatalf("the dropped key is still stored (%v) or the certificate went with it: %+v", got.Cert.KeyCiphertext, got.Cert)
	}
	if got.KeyMode != simrec.KeyModeDevice || got.EnrolCount != 1 || len(got.Enrolments) != 1 ||
		!got.Enrolments[0].At.Equal(at) || got.Enrolments[0].CertificateID != "cid-enrolled" || got.Enrolments[0].Command != "enrol-1" {
		t.Fatalf("round trip lost the key mode or enrolments: %+v", got)
	}
	got.KeyMode, got.Enrolments, got.EnrolCount = "", nil, 0
	if _, err := s.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.Get(ctx, r.ICCID); again.KeyMode != "" || again.Enrolments != nil || again.EnrolCount != 0 {
		t.Fatalf("cleared key mode or history came back: %+v", again)
	}
}

func getMany(t *testing.T, s Store) {
	var ids []string
	for i := range 130 { // more than one BatchGetItem request
		id := fmt.Sprintf("89882806660000%05d", 50000+i)
		ids = append(ids, id)
		if i%2 == 0 {
			mustCreate(t, s, rec(id, fmt.Sprintf("10.5.%d.%d", i/250, i%250+1)))
		}
	}
	for _, peek := range []bool{false, true} {
		got, err := s.GetMany(context.Background(), append(ids, ids[0]), peek)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 65 {
			t.Fatalf("peek %v: %d records, want the 65 that exist", peek, len(got))
		}
		r := got[ids[2]]
		if r.ICCID != ids[2] || r.IP != "10.5.0.3" || r.Version != 1 {
			t.Fatalf("peek %v: %+v", peek, r)
		}
	}
}
