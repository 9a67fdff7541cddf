package simrec_test

import (
	"slices"
	"testing"

	"github.com/simbridge/simbridge/libs/simrec"
)

func TestLifecycle(t *testing.T) {
	t.Parallel()
	cert := &simrec.Credentials{ID: "c1", ARN: "arn:cert/c1", PEM: "P", KeyCiphertext: []byte{1}}
	next := simrec.Credentials{ID: "c2", ARN: "arn:cert/c2", PEM: "P", KeyCiphertext: []byte{2}}
	tests := []struct {
		name     string
		from     simrec.Record
		change   func(r *simrec.Record)
		state    simrec.State
		cert     string
		retiring []string
	}{
		{"enable a pending SIM", simrec.Record{}, func(r *simrec.Record) { r.Enable("10.0.0.1", "Enabled") }, simrec.StateActive, "", nil},
		{"disable an active SIM", simrec.Record{State: simrec.StateActive, Cert: cert}, (*simrec.Record).Disable, simrec.StateDisabled, "c1", nil},
		{"a revoked SIM stays revoked when disabled", simrec.Record{State: simrec.StateRevoked, Cert: cert}, (*simrec.Record).Disable, simrec.StateRevoked, "c1", nil},
		{"revoke drops the certificate being issued", simrec.Record{State: simrec.StateActive, Cert: cert, Next: &next}, (*simrec.Record).Revoke, simrec.StateRevoked, "c1", nil},
		{"the first certificate replaces nothing", simrec.Record{State: simrec.StatePending, Next: &next}, func(r *simrec.Record) { r.Switch(*r.Next) }, simrec.StatePending, "c2", nil},
		{"a new certificate retires the old one", simrec.Record{State: simrec.StateActive, Cert: cert, Next: &next}, func(r *simrec.Record) { r.Switch(*r.Next) }, simrec.StateActive, "c2", []string{"arn:cert/c1"}},
		{"switching to the current certificate retires nothing", simrec.Record{State: simrec.StateActive, Cert: cert}, func(r *simrec.Record) { r.Switch(*cert) }, simrec.StateActive, "c1", nil},
		{"a certificate is retired once", simrec.Record{State: simrec.StateActive, Cert: cert, Retiring: []string{"arn:cert/c1"}, Next: &next},
			func(r *simrec.Record) { r.Switch(*r.Next) }, simrec.StateActive, "c2", []string{"arn:cert/c1"}},
		{"retired certificates leave the record", simrec.Record{State: simrec.StateActive, Cert: cert, Retiring: []string{"arn:cert/c0"}}, (*simrec.Record).Retired, simrec.StateActive, "c1", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := tc.from
			r.Retiring, r.Active = slices.Clone(r.Retiring), r.State == simrec.StateActive
			tc.change(&r)
			if r.CurrentState() != tc.state || r.Active != (tc.state == simrec.StateActive) || r.CertificateID() != tc.cert ||
				!slices.Equal(r.Retiring, tc.retiring) {
				t.Fatalf("state %s active %v cert %q retiring %v, want %s %q %v", r.CurrentState(), r.Active, r.CertificateID(), r.Retiring, tc.state, tc.cert, tc.retiring)
			}
			if tc.state == simrec.StateRevoked && r.Next != nil {
				t.Fatal("a revoked SIM keeps no certificate being issued")
			}
		})
	}
}
