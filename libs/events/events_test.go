package events_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/events"
)

func validCreate() events.SimCommand {
	return events.SimCommand{Kind: events.KindCreate, ICCID: "8988280666000000001", IP: "10.0.0.1", Status: "Enabled", ObservedAt: time.Unix(1, 0)}
}

func TestDecodeSimCommand(t *testing.T) {
	t.Parallel()
	good, _ := validCreate().Encode()
	tests := []struct {
		name    string
		body    string
		wantErr bool
	}{
		{"valid create", string(good), false},
		{"valid disable without ip", `{"kind":"disable","iccid":"8988280666000000001"}`, false},
		{"not json", `{kind`, true},
		{"unknown kind", `{"kind":"explode","iccid":"8988280666000000001","ip":"10.0.0.1"}`, true},
		{"short iccid", `{"kind":"disable","iccid":"123"}`, true},
		{"letters in iccid", `{"kind":"disable","iccid":"89882806660000000AB"}`, true},
		{"create without ip", `{"kind":"create","iccid":"8988280666000000001"}`, true},
		{"create with bad ip", `{"kind":"create","iccid":"8988280666000000001","ip":"10.0.0.300"}`, true},
		{"create with an IPv4-mapped ip (not canonical)", `{"kind":"create","iccid":"8988280666000000001","ip":"::ffff:10.0.0.1"}`, true},
		{"create with a plain IPv6 ip", `{"kind":"create","iccid":"8988280666000000001","ip":"2001:db8::1"}`, true},
		{"update with a padded ip", `{"kind":"update","iccid":"8988280666000000001","ip":" 10.0.0.1"}`, true},
		{"disable keeps the stored spelling", `{"kind":"disable","iccid":"8988280666000000001","ip":"::ffff:10.0.0.1"}`, false},
		{"enrol with a CSR", `{"kind":"enrol","iccid":"8988280666000000001","csr":"-----BEGIN CERTIFICATE REQUEST-----"}`, false},
		{"enrol without a CSR", `{"kind":"enrol","iccid":"8988280666000000001"}`, true},
		{"enrol with an oversized CSR", `{"kind":"enrol","iccid":"8988280666000000001","csr":"` + strings.Repeat("A", events.MaxCSRBytes+1) + `"}`, true},
		{"key mode device", `{"kind":"key-mode","iccid":"8988280666000000001","key_mode":"device"}`, false},
		{"key mode unknown", `{"kind":"key-mode","iccid":"8988280666000000001","key_mode":"hsm"}`, true},
		{"key mode missing", `{"kind":"key-mode","iccid":"8988280666000000001"}`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := events.DecodeSimCommand([]byte(tc.body))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, events.ErrInvalidCommand) {
				t.Fatalf("error %v does not mark the command invalid", err)
			}
		})
	}
}

func TestDeduplicationID(t *testing.T) {
	t.Parallel()
	a := validCreate()
	resent := a
	resent.ObservedAt = time.Unix(99, 0)
	if a.DeduplicationID() != resent.DeduplicationID() {
		t.Error("a re-sent identical change must deduplicate")
	}
	later := a
	later.BaseVersion = 3
	changedIP := a
	changedIP.IP = "10.0.0.2"
	other := a
	other.ICCID = "8988280666000000002"
	for name, c := range map[string]events.SimCommand{"later version": later, "changed ip": changedIP, "other sim": other} {
		if c.DeduplicationID() == a.DeduplicationID() {
			t.Errorf("%s must not deduplicate", name)
		}
	}
	if n := len(a.DeduplicationID()); n > 128 {
		t.Errorf("SQS allows 128 characters, got %d", n)
	}
}

func TestNotificationShape(t *testing.T) {
	t.Parallel()
	b, _ := events.NewNotification(time.UnixMilli(1680618078888), "8988280666001099538", "10.242.0.3", events.MessageEnabled).Encode()
	want := `{"iccid":"8988280666001099538","ip":"10.242.0.3","timestamp":1680618078888,"message":"SIM enabled"}`
	if string(b) != want {
		t.Fatalf("got %s\nwant %s", b, want)
	}
	f, _ := events.NewNotification(time.UnixMilli(1680526955876), "", "", "boom").Encode()
	if string(f) != `{"timestamp":1680526955876,"message":"boom"}` {
		t.Fatalf("failure shape %s", f)
	}
}

func TestICCIDKeyRoundTrips(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, iccid string
		ok          bool
	}{
		{"19 digits", "8988280666001099538", true},
		{"18 digits", "898828066600109953", true},
		{"20 digits, above uint64", "99999999999999999999", true},
		{"22 digits", "8988280666001099538123", true},
		{"leading zeros keep their length", "0000000000000000001", true},
		{"too short", "89882806660010995", false},
		{"too long", "89882806660010995381234", false},
		{"not digits", "898828066600109953X", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, ok := events.KeyOf(tc.iccid)
			if ok != tc.ok {
				t.Fatalf("KeyOf(%q) ok = %v, want %v", tc.iccid, ok, tc.ok)
			}
			if ok && k.String() != tc.iccid {
				t.Fatalf("KeyOf(%q).String() = %q", tc.iccid, k.String())
			}
		})
	}
	a, _ := events.KeyOf("8988280666001099538")
	b, _ := events.KeyOf("89882806660010995380")
	if a == b {
		t.Fatal("an ICCID and the same digits with one more must have different keys")
	}
}

// The same SIM and key make the same enrolment command, so a device that
// retries gets the certificate of its first request; another key or SIM
// is another enrolment.
func TestEnrolID(t *testing.T) {
	t.Parallel()
	a := events.EnrolID("8988280666000000001", []byte("key-a"))
	if a != events.EnrolID("8988280666000000001", []byte("key-a")) || len(a) > 128 || !strings.HasPrefix(a, "enrol-") {
		t.Fatalf("id %q not stable or too long", a)
	}
	if a == events.EnrolID("8988280666000000001", []byte("key-b")) || a == events.EnrolID("8988280666000000002", []byte("key-a")) {
		t.Fatal("another key or SIM must be another command")
	}
	if events.KindEnrol.Queue() != events.CreateQueue || events.KindKeyMode.Queue() != events.CreateQueue {
		t.Fatal("enrol and key-mode go to the provisioner")
	}
}
