package simrec_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/simrec"
)

func TestEnrolWait(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	limits := simrec.EnrolLimits{Interval: 10 * time.Minute, DailyCap: 3}
	at := func(ago ...time.Duration) simrec.Record {
		var r simrec.Record
		for _, a := range ago {
			r.Enrolled(simrec.Enrolment{At: now.Add(-a)})
		}
		return r
	}
	tests := []struct {
		name string
		rec  simrec.Record
		want time.Duration
	}{
		{"never enrolled", at(), 0},
		{"the last enrolment is older than the interval", at(time.Hour), 0},
		{"the last enrolment is within the interval", at(4 * time.Minute), 6 * time.Minute},
		{"the daily cap is reached: the oldest of the day must leave the window", at(20*time.Hour, 5*time.Hour, time.Hour), 4 * time.Hour},
		{"enrolments older than a day do not count", at(30*time.Hour, 25*time.Hour, time.Hour), 0},
		{"both limits: the longer wait", at(23*time.Hour+58*time.Minute, 3*time.Hour, 5*time.Minute), 5 * time.Minute},
		{"cap and interval", at(23*time.Hour, 2*time.Hour, time.Minute), time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.rec.EnrolWait(now, limits); got != tc.want {
				t.Fatalf("wait %v, want %v", got, tc.want)
			}
		})
	}
}

func TestEnrolmentHistoryIsBounded(t *testing.T) {
	t.Parallel()
	var r simrec.Record
	for i := range simrec.MaxEnrolments + 5 {
		r.Enrolled(simrec.Enrolment{Command: fmt.Sprint(i)})
	}
	if len(r.Enrolments) != simrec.MaxEnrolments || r.EnrolCount != simrec.MaxEnrolments+5 ||
		r.Enrolments[0].Command != "5" || r.LastEnrolment().Command != fmt.Sprint(simrec.MaxEnrolments+4) {
		t.Fatalf("kept %d (first %q), counted %d", len(r.Enrolments), r.Enrolments[0].Command, r.EnrolCount)
	}
	if (simrec.Record{}).LastEnrolment() != nil {
		t.Fatal("a SIM that never enrolled has a last enrolment")
	}
}

func TestEnrolLimitsValidate(t *testing.T) {
	t.Parallel()
	for _, l := range []simrec.EnrolLimits{{Interval: -1, DailyCap: 1}, {DailyCap: 0}, {DailyCap: simrec.MaxEnrolments + 1}} {
		if l.Validate() == nil {
			t.Errorf("%+v accepted", l)
		}
	}
	if err := (simrec.EnrolLimits{DailyCap: simrec.MaxEnrolments}).Validate(); err != nil {
		t.Error(err)
	}
}

// A key whose certificate was replaced or revoked never gets one again;
// the current certificate's key may ask again (a retry gets the same one).
func TestCheckKey(t *testing.T) {
	t.Parallel()
	r := simrec.Record{Cert: &simrec.Credentials{ID: "c2", PEM: "P", Command: "enrol-b"}}
	r.Enrolled(simrec.Enrolment{Command: "enrol-a"})
	r.Enrolled(simrec.Enrolment{Command: "enrol-b"})
	for cmd, want := range map[string]error{"enrol-a": simrec.ErrKeyRetired, "enrol-b": nil, "enrol-c": nil} {
		if err := r.CheckKey(cmd); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", cmd, err, want)
		}
	}
}

func TestKeyModes(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "Device", "hsm"} {
		if _, err := simrec.ParseKeyMode(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
	own := simrec.Record{KeyMode: simrec.KeyModeDevice}
	if own.KeyModeIn(simrec.KeyModeServer) != simrec.KeyModeDevice || (simrec.Record{}).KeyModeIn(simrec.KeyModeBoth) != simrec.KeyModeBoth ||
		(simrec.Record{}).KeyModeIn("") != simrec.KeyModeServer {
		t.Fatal("a SIM's own mode must win over the environment's, which applies otherwise")
	}
	for m, want := range map[simrec.KeyMode][2]bool{simrec.KeyModeServer: {true, false}, simrec.KeyModeDevice: {false, true}, simrec.KeyModeBoth: {true, true}} {
		if m.ServesKeys() != want[0] || m.Enrols() != want[1] {
			t.Errorf("%s: serves keys %v, enrols %v", m, m.ServesKeys(), m.Enrols())
		}
	}
	r := simrec.Record{Cert: &simrec.Credentials{PEM: "P", KeyCiphertext: []byte{1}}, Next: &simrec.Credentials{PEM: "N", KeyCiphertext: []byte{2}}}
	if !r.HoldsKey() {
		t.Fatal("sealed keys not seen")
	}
	r.DropKeys()
	if r.HoldsKey() || !r.HasCredentials() {
		t.Fatalf("after DropKeys: holds a key %v, certificate kept %v", r.HoldsKey(), r.HasCredentials())
	}
}
