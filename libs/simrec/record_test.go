package simrec_test

import (
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/simrec"
)

// A command computed against an older state of a SIM must never undo a
// newer one, whatever order the queues deliver in; its own redelivery must
// still be able to finish its work.
func TestAdmits(t *testing.T) {
	t.Parallel()
	rec := simrec.Record{Version: 5, LastCommand: "disable-1"}
	tests := []struct {
		name        string
		id          string
		base        int64
		baseCommand string
		want        bool
	}{
		{"computed against the current version", "create-2", 5, "disable-1", true},
		{"redelivery of the command that last wrote", "disable-1", 3, "", true},
		{"create computed before the record existed, after a newer disable", "create-1", 0, "", false},
		{"computed against an older version by another command", "update-1", 4, "create-1", false},
		{"computed while the last writer was at work", "disable-2", 4, "disable-1", true},
		{"base command given but no version: a create for an absent record", "create-3", 0, "disable-1", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := rec.Admits(tc.id, tc.base, tc.baseCommand); got != tc.want {
				t.Fatalf("Admits(%s, %d, %q) = %v, want %v", tc.id, tc.base, tc.baseCommand, got, tc.want)
			}
		})
	}
}

func TestClaimedAndState(t *testing.T) {
	t.Parallel()
	now := time.Now()
	r := simrec.Record{ClaimedBy: "a", ClaimedUntil: now.Add(time.Minute)}
	if !r.Claimed("b", now) || r.Claimed("a", now) || r.Claimed("b", now.Add(2*time.Minute)) {
		t.Fatal("a claim holds against other commands until it expires, never against its holder")
	}
	r.SetState(simrec.StateActive)
	if !r.Active || r.CurrentState() != simrec.StateActive {
		t.Fatal("active state must set Active")
	}
	r.SetState(simrec.StateRevoked)
	if r.Active {
		t.Fatal("revoked must not be active")
	}
	legacy := simrec.Record{Cert: &simrec.Credentials{PEM: "x", KeyCiphertext: []byte{1}}}
	if legacy.CurrentState() != simrec.StateDisabled {
		t.Fatalf("a legacy inactive record with credentials is disabled, got %s", legacy.CurrentState())
	}
}
