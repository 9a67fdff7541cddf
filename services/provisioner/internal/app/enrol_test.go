package app_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/iotca"
	"github.com/simbridge/simbridge/libs/iotcore/iotfake"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simrec/simrectest"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/services/provisioner/internal/app"
)

var enrolledMsg = []string{events.MessageEnrolled}

// enrolment is an enrol command for a fresh request of kind, computed
// against the record as it is now (what onboarding-api sends), and the
// request's key.
func (w *world) enrolment(kind testkit.CSRKind) (events.SimCommand, crypto.Signer) {
	w.t.Helper()
	der, key := testkit.NewCSR(w.t, kind)
	return w.enrolWith(der), key
}

// enrolWith is the enrol command of a request's DER, computed now.
func (w *world) enrolWith(der []byte) events.SimCommand {
	w.t.Helper()
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		w.t.Fatal(err)
	}
	rec := w.record()
	return events.SimCommand{Kind: events.KindEnrol, ICCID: sim, BaseVersion: rec.Version, BaseCommand: rec.LastCommand,
		ID: events.EnrolID(sim, csr.RawSubjectPublicKeyInfo), CSR: string(testkit.CSRPEM(der))}
}

// lastDER is the request of the command the case kept.
func (w *world) lastDER() []byte { return derOf(w.t, w.last) }

// derOf is the DER of an enrol command's request.
func derOf(t *testing.T, cmd events.SimCommand) []byte {
	t.Helper()
	der, err := iotca.DecodeCSR([]byte(cmd.CSR))
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// enrolled is the SIM after its device enrolled with a fresh P-256 key.
func (w *world) enrolled() events.SimCommand {
	w.t.Helper()
	cmd, _ := w.enrolment(testkit.CSRP256)
	w.must(cmd)
	return cmd
}

// inMode sets the environment's key mode.
func (w *world) inMode(m simrec.KeyMode) *world {
	if m != "" {
		w.p.KeyMode = m
	}
	return w
}

// keyless checks that the record holds no private key and the SIM is in
// key mode device, with n enrolments in its history.
func (w *world) keyless(n int) simrec.Record {
	w.t.Helper()
	rec := w.record()
	if rec.HoldsKey() || rec.KeyMode != simrec.KeyModeDevice || rec.EnrolCount != n || len(rec.Enrolments) != n {
		w.t.Fatalf("holds a key %v, key mode %q, %d enrolments (%d kept), want none, device, %d", rec.HoldsKey(), rec.KeyMode, rec.EnrolCount, len(rec.Enrolments), n)
	}
	if n > 0 {
		if last := rec.LastEnrolment(); last.CertificateID != rec.CertificateID() || last.At.IsZero() || last.At.After(w.clock.Now()) || last.Command != rec.Cert.Command {
			w.t.Fatalf("last enrolment %+v does not name the current certificate %s", last, rec.CertificateID())
		}
		if !rec.Cert.DeviceKey {
			w.t.Fatal("the enrolled certificate is not marked as the device's key")
		}
	}
	return rec
}

// awaiting checks a SIM in key mode device that waits for its device to
// enrol: active, its Thing there, no certificate, no key.
func (w *world) awaiting() {
	w.t.Helper()
	rec := w.record()
	if !rec.Active || !rec.Settled() || rec.Cert != nil || rec.HoldsKey() || rec.KeyMode != simrec.KeyModeDevice {
		w.t.Fatalf("not awaiting enrolment: %+v", rec)
	}
	if _, _, ok := w.iot.Thing(sim); !ok {
		w.t.Fatal("no Thing")
	}
	for _, c := range w.iot.Certificates() {
		if st := w.iot.Status(c); st == types.CertificateStatusActive {
			w.t.Fatalf("certificate %s is ACTIVE while the SIM waits for enrolment", c)
		}
	}
}

// Every branch of enrolment and of the key modes, on the in-memory IoT
// Core, store and KMS.
func TestEnrolAndKeyModes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		authority string
		mode      simrec.KeyMode
		given     func(w *world)
		command   func(w *world) events.SimCommand
		want      outcome
	}{
		{name: "key mode both: enrolment replaces the server certificate and no key is left", mode: simrec.KeyModeBoth,
			given: (*world).active,
			command: func(w *world) events.SimCommand {
				cmd, key := w.enrolment(testkit.CSRP256)
				w.t.Cleanup(func() {
					if cert, _ := iotca.ParseCertificate(w.record().Cert.PEM); cert == nil || !key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(cert.PublicKey) {
						w.t.Error("the certificate is not for the request's key")
					}
				})
				return cmd
			},
			want: outcome{servedAt: "10.0.0.1", cert: newCert, minted: 1, announced: enrolledMsg, check: func(w *world) { w.keyless(1) }}},
		{name: "key mode device: a new SIM gets its Thing and record, no key", mode: simrec.KeyModeDevice,
			given:   func(*world) {},
			command: func(*world) events.SimCommand { return create("10.0.0.1") },
			want:    outcome{state: simrec.StateActive, announced: enabled, check: (*world).awaiting}},
		{name: "key mode device: the first enrolment", mode: simrec.KeyModeDevice,
			given:   (*world).active,
			command: func(w *world) events.SimCommand { cmd, _ := w.enrolment(testkit.CSRRSA2048); return cmd },
			want:    outcome{servedAt: "10.0.0.1", minted: 1, announced: enrolledMsg, check: func(w *world) { w.keyless(1) }}},
		{name: "re-enrolment with a new key: the previous certificate is REVOKED", mode: simrec.KeyModeDevice,
			given:   func(w *world) { w.active(); w.enrolled() },
			command: func(w *world) events.SimCommand { cmd, _ := w.enrolment(testkit.CSRP256); return cmd },
			want:    outcome{servedAt: "10.0.0.1", cert: newCert, minted: 1, announced: enrolledMsg, check: func(w *world) { w.keyless(2) }}},
		{name: "the same request again: the same certificate, nothing written", mode: simrec.KeyModeDevice,
			given: func(w *world) { w.active(); w.last = w.enrolled() },
			command: func(w *world) events.SimCommand {
				again := w.enrolWith(w.lastDER())
				if again.ID != w.last.ID {
					w.t.Fatal("the same request made another command id")
				}
				return again
			},
			want: outcome{servedAt: "10.0.0.1", cert: sameCert, unchanged: true}},
		{name: "a key whose certificate was replaced is refused", mode: simrec.KeyModeDevice,
			given:   func(w *world) { w.active(); w.last = w.enrolled(); w.enrolled() },
			command: func(w *world) events.SimCommand { return w.enrolWith(w.lastDER()) },
			want:    outcome{servedAt: "10.0.0.1", cert: sameCert, unchanged: true, refusals: 1}},
		{name: "key mode server: enrolment refused",
			given:   (*world).active,
			command: func(w *world) events.SimCommand { cmd, _ := w.enrolment(testkit.CSRP256); return cmd },
			want:    outcome{servedAt: "10.0.0.1", cert: sameCert, unchanged: true, refusals: 1}},
		{name: "a disabled SIM does not enrol", mode: simrec.KeyModeBoth,
			given:   (*world).disabled,
			command: func(w *world) events.SimCommand { cmd, _ := w.enrolment(testkit.CSRP256); return cmd },
			want:    outcome{state: simrec.StateDisabled, unchanged: true, refusals: 1}},
		{name: "a request that fails the CA's check is refused; the SIM keeps its certificate", mode: simrec.KeyModeBoth,
			given:   (*world).active,
			command: func(w *world) events.SimCommand { cmd, _ := w.enrolment(testkit.CSRBadSignature); return cmd },
			want:    outcome{servedAt: "10.0.0.1", cert: sameCert, refusals: 1}},
		{name: "Amazon's CA does not enrol", authority: simrec.AuthorityAWS, mode: simrec.KeyModeBoth,
			given:   (*world).active,
			command: func(w *world) events.SimCommand { cmd, _ := w.enrolment(testkit.CSRP256); return cmd },
			want:    outcome{servedAt: "10.0.0.1", cert: sameCert, refusals: 1}},
		{name: "reissue in key mode device: the certificate is REVOKED, the device enrols again", mode: simrec.KeyModeDevice,
			given:   func(w *world) { w.active(); w.enrolled(); w.had = w.record() },
			command: reissue,
			want: outcome{state: simrec.StateActive, announced: reissued, check: func(w *world) {
				w.awaiting()
				w.retired(w.had.CertificateID())
			}}},
		{name: "a revoked SIM enabled again in key mode device waits for its device", mode: simrec.KeyModeDevice,
			given: func(w *world) {
				w.active()
				w.enrolled()
				w.had = w.record()
				w.deactivate(types.CertificateStatusRevoked, (*simrec.Record).Revoke)
			},
			command: func(w *world) events.SimCommand { return w.after(events.KindCreate, "10.0.0.1") },
			want: outcome{state: simrec.StateActive, announced: enabled, check: func(w *world) {
				w.awaiting()
				w.retired(w.had.CertificateID())
			}}},
		{name: "a disabled device-mode SIM enabled again gets its enrolled certificate back", mode: simrec.KeyModeDevice,
			given: func(w *world) {
				w.active()
				w.enrolled()
				w.deactivate(types.CertificateStatusInactive, (*simrec.Record).Disable)
			},
			command: func(w *world) events.SimCommand { return w.after(events.KindCreate, "10.0.0.1") },
			want:    outcome{servedAt: "10.0.0.1", cert: sameCert, announced: enabled, check: func(w *world) { w.keyless(1) }}},
		{name: "an operator's key mode device deletes the sealed key; the certificate serves on",
			given:   (*world).active,
			command: func(w *world) events.SimCommand { return keyMode(w, simrec.KeyModeDevice) },
			want:    outcome{servedAt: "10.0.0.1", cert: sameCert, check: func(w *world) { w.keyless(0) }}},
		{name: "an operator's key mode both keeps the key",
			given:   (*world).active,
			command: func(w *world) events.SimCommand { return keyMode(w, simrec.KeyModeBoth) },
			want: outcome{servedAt: "10.0.0.1", cert: sameCert, check: func(w *world) {
				if r := w.record(); !r.HoldsKey() || r.KeyMode != simrec.KeyModeBoth {
					w.t.Fatalf("key kept %v, mode %q", r.HoldsKey(), r.KeyMode)
				}
			}}},
		{name: "a SIM set to server in a device environment gets a server key on its next certificate", mode: simrec.KeyModeDevice,
			given: func(w *world) {
				w.active()
				w.must(keyMode(w, simrec.KeyModeServer))
			},
			command: reissue,
			want: outcome{servedAt: "10.0.0.1", minted: 1, announced: reissued, check: func(w *world) {
				if !w.record().HoldsKey() {
					w.t.Fatal("no server key")
				}
			}}},
		{name: "key mode of a SIM without a record is refused",
			given: func(*world) {},
			command: func(*world) events.SimCommand {
				return events.SimCommand{Kind: events.KindKeyMode, ICCID: sim, KeyMode: "device", ID: "km-1"}
			},
			want: outcome{refusals: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			authority := tc.authority
			if authority == "" {
				authority = simrec.AuthorityOwn
			}
			w := newWorld(t, authority).inMode(tc.mode)
			tc.given(w)
			before, _ := w.store.Memory.Get(context.Background(), sim)
			minted := w.minted()
			announced, refusals := w.notes.Sent()
			cmd := tc.command(w)
			if err := w.handle(cmd); err != nil {
				t.Fatal(err)
			}
			w.safe()
			tc.want.verify(w, before, minted, len(announced), len(refusals))
		})
	}
}

func keyMode(w *world, m simrec.KeyMode) events.SimCommand {
	rec := w.record()
	return events.SimCommand{Kind: events.KindKeyMode, ICCID: sim, KeyMode: string(m), BaseVersion: rec.Version,
		BaseCommand: rec.LastCommand, ID: "key-mode-" + string(m)}
}

// An enrolment that died after any step is finished by a newer command
// once its claim expired, from what the record names: the enrolled
// certificate serves, it is in the SIM's history, no key is left, nothing
// else is ACTIVE.
func TestInterruptedEnrolmentsAreFinishedFromTheRecord(t *testing.T) {
	t.Parallel()
	boom := errors.New("killed")
	lost := iotfake.AfterEffect{Err: boom}
	written := simrectest.AfterWrite{Err: boom}
	tests := []struct {
		name string
		kill func(w *world)
	}{
		{"after recording the certificate", func(w *world) { w.store.FailNext(simrectest.OpUpdate, nil, written) }},
		{"after registering the certificate", func(w *world) { w.iot.FailNext("RegisterCertificate", lost) }},
		{"after attaching the certificate", func(w *world) { w.iot.FailNext("AttachThingPrincipal", lost) }},
		{"after attaching the policy", func(w *world) { w.iot.FailNext("AttachPolicy", lost) }},
		{"after switching the record to it", func(w *world) { w.store.FailNext(simrectest.OpUpdate, nil, nil, written) }},
		{"after revoking the old certificate", func(w *world) { w.iot.FailNext("UpdateCertificate", lost) }},
		{"after detaching the old certificate", func(w *world) { w.iot.FailNext("DetachThingPrincipal", lost) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, simrec.AuthorityOwn).inMode(simrec.KeyModeBoth)
			w.active()
			old := w.record().CertificateID()
			cmd, _ := w.enrolment(testkit.CSRP256)
			tc.kill(w)
			if err := w.handle(cmd); !errors.Is(err, boom) {
				t.Fatalf("the attempt was not killed: %v", err)
			}
			w.safe()
			w.clock.Advance(2 * timing.TTL)
			if err := w.handle(w.after(events.KindUpdate, "10.0.0.2")); err != nil {
				t.Fatal(err)
			}
			rec := w.serving("10.0.0.2")
			if rec.Cert.Command != cmd.ID {
				t.Fatalf("certificate of %s serves, want the enrolled one", rec.Cert.Command)
			}
			w.keyless(1)
			w.retired(old)
			// The device asking again gets the certificate, nothing more.
			minted := w.minted()
			w.must(w.enrolWith(derOf(t, cmd)))
			if w.minted() != minted || w.record().CertificateID() != rec.CertificateID() {
				t.Fatal("asking again made another certificate")
			}
		})
	}
}

// enrolScenario is the enrolment among the scenarios of
// TestEveryFailedCallIsFinishedByTheRedelivery.
func enrolScenario() scenario {
	thing := []call{
		iotCall("DescribeThing", 1, app.StepThing, false),
		iotCall("AddThingToThingGroup", 1, app.StepThing, true),
	}
	attach := []call{
		iotCall("AttachThingPrincipal", 1, app.StepAttachThing, true),
		iotCall("AttachPolicy", 1, app.StepAttachPolicy, true),
	}
	return scenario{name: "enrol", authority: simrec.AuthorityOwn, given: func(w *world) { w.inMode(simrec.KeyModeBoth).active() },
		command: func(w *world) events.SimCommand { cmd, _ := w.enrolment(testkit.CSRP256); return cmd },
		calls: slices.Concat([]call{
			storeCall(simrectest.OpGet, 1, simrec.StepLoad),
			storeCall(simrectest.OpUpdate, 1, simrec.StepClaim),
			certifyCall,
			storeCall(simrectest.OpUpdate, 2, app.StepRecordNext).remint(true, false),
			iotCall("RegisterCertificate", 1, app.StepRegister, true),
		}, thing, attach, []call{
			storeCall(simrectest.OpUpdate, 3, app.StepRecordActive),
			iotCall("UpdateCertificate", 1, app.StepRetire, true),
			iotCall("DetachThingPrincipal", 1, app.StepRetire, true),
			storeCall(simrectest.OpUpdate, 4, app.StepRecordRetired).lastWrite(),
		}),
		ip: "10.0.0.1", fresh: true, minted: 1, announced: enrolledMsg, announcedBefore: 1}
}

var certifyCall = call{name: "Certify", step: app.StepCertify, inject: func(w *world, _ bool) { w.ca.failNext = errBoom }}
