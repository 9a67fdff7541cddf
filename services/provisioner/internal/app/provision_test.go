package app_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/iotcore"
	"github.com/simbridge/simbridge/libs/iotcore/iotfake"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simrec/simrectest"
	"github.com/simbridge/simbridge/services/provisioner/internal/app"
)

// certificate says what a command did to the SIM's certificate.
type certificate int

const (
	anyCert  certificate = iota
	sameCert             // the certificate the SIM had serves again
	newCert              // a fresh one serves; the old one is REVOKED and detached
)

// outcome is what a user of the system notices after a command.
type outcome struct {
	err error
	// servedAt: the SIM must then satisfy the invariant at this IP; when
	// empty, state is checked instead (and unchanged, if set).
	servedAt  string
	state     simrec.State
	cert      certificate
	minted    int
	announced []string
	refusals  int
	unchanged bool
	failed    bool // the record still shows a failed attempt
	check     func(w *world)
}

var (
	enabled  = []string{events.MessageEnabled}
	updated  = []string{events.MessageUpdated}
	reissued = []string{events.MessageReissued}
)

// Every branch of create, update and reissue, on the in-memory IoT Core,
// store and KMS.
func TestHandle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		authority string
		given     func(w *world)
		command   func(w *world) events.SimCommand
		want      outcome
	}{
		// Create.
		{name: "create: a new SIM becomes onboardable with the own CA",
			given:   func(*world) {},
			command: func(*world) events.SimCommand { return create("10.0.0.1") },
			want: outcome{servedAt: "10.0.0.1", minted: 1, announced: enabled, check: func(w *world) {
				attrs, groups, _ := w.iot.Thing(sim)
				if attrs[iotcore.ManagedAttribute] != iotcore.ManagedValue || attrs["imsi"] != "901405100000001" || attrs["label"] != "tank_7" ||
					!slices.Equal(groups, []string{group}) {
					w.t.Fatalf("thing attributes %v groups %v", attrs, groups)
				}
				if rec := w.record(); !rec.Cert.IssuedAt.Equal(w.clock.Now()) || string(rec.Cert.KeyCiphertext) != sim+":KEY" {
					w.t.Fatalf("certificate issued at %v, key %q: not sealed or not timed by the clock", rec.Cert.IssuedAt, rec.Cert.KeyCiphertext)
				}
			}}},
		{name: "create: a new SIM becomes onboardable with Amazon's CA", authority: simrec.AuthorityAWS,
			given:   func(*world) {},
			command: func(*world) events.SimCommand { return create("10.0.0.1") },
			want:    outcome{servedAt: "10.0.0.1", minted: 1, announced: enabled}},
		{name: "create redelivered after it finished changes nothing",
			given:   func(w *world) { w.active() },
			command: func(*world) events.SimCommand { return create("10.0.0.1") },
			want: outcome{servedAt: "10.0.0.1", unchanged: true, check: func(w *world) {
				if n := w.iot.Calls("RegisterCertificate"); n != 1 {
					w.t.Fatalf("RegisterCertificate called %d times", n)
				}
			}}},
		{name: "create on a foreign Thing of the same name: the SIM's certificate joins it",
			given:   func(w *world) { w.iot.ForeignThing(sim) },
			command: func(*world) events.SimCommand { return create("10.0.0.1") },
			want: outcome{servedAt: "10.0.0.1", minted: 1, announced: enabled, check: func(w *world) {
				if attrs, groups, _ := w.iot.Thing(sim); attrs[iotcore.ManagedAttribute] != "" || len(groups) != 0 {
					w.t.Fatalf("a foreign thing was made ours: %v %v", attrs, groups)
				}
			}}},

		// IP change.
		{name: "update moves the record to the new IP; the certificate stays",
			given:   func(w *world) { w.active() },
			command: func(w *world) events.SimCommand { return w.after(events.KindUpdate, "10.0.0.9") },
			want:    outcome{servedAt: "10.0.0.9", cert: sameCert, announced: updated}},
		{name: "update to the IP the SIM has is carried out already",
			given:   func(w *world) { w.active() },
			command: func(w *world) events.SimCommand { return w.after(events.KindUpdate, "10.0.0.1") },
			want:    outcome{servedAt: "10.0.0.1", cert: sameCert, unchanged: true}},
		{name: "update finishes what an interrupted reissue left to retire",
			given: func(w *world) {
				w.active()
				w.iot.FailNext("UpdateCertificate", errors.New("boom"))
				_ = w.handle(w.after(events.KindReissue, ""))
				w.clock.Advance(2 * timing.TTL) // the reissue's claimant died
			},
			command: func(w *world) events.SimCommand { return w.after(events.KindUpdate, "10.0.0.2") },
			want:    outcome{servedAt: "10.0.0.2", announced: updated}},
		{name: "a retiring certificate IoT Core no longer knows is only detached",
			given: func(w *world) {
				w.active()
				w.write(func(r *simrec.Record) { r.Retire("arn:aws:iot:us-east-1:123456789012:cert/gone") })
			},
			command: func(w *world) events.SimCommand { return w.after(events.KindUpdate, "10.0.0.2") },
			want:    outcome{servedAt: "10.0.0.2", cert: sameCert, announced: updated}},

		// Re-enable.
		{name: "re-enable reactivates the certificate the device may still hold",
			given:   func(w *world) { w.disabled() },
			command: func(w *world) events.SimCommand { return w.after(events.KindCreate, "10.0.0.2") },
			want:    outcome{servedAt: "10.0.0.2", cert: sameCert, announced: enabled}},
		{name: "re-enable with Amazon's CA reactivates its certificate", authority: simrec.AuthorityAWS,
			given:   func(w *world) { w.disabled() },
			command: func(w *world) events.SimCommand { return w.after(events.KindCreate, "10.0.0.1") },
			want:    outcome{servedAt: "10.0.0.1", cert: sameCert, announced: enabled}},
		{name: "re-enable of a certificate an operator revoked issues a fresh one",
			given: func(w *world) {
				w.disabled()
				if err := w.iot.SetStatus(context.Background(), w.record().CertificateID(), iotcore.StatusRevoked); err != nil {
					t.Fatal(err)
				}
			},
			command: func(w *world) events.SimCommand { return w.after(events.KindCreate, "10.0.0.1") },
			want:    outcome{servedAt: "10.0.0.1", cert: newCert, minted: 1, announced: enabled}},
		{name: "re-enable of a certificate IoT Core no longer knows issues a fresh one",
			given:   func(w *world) { w.disabled(); w.certificateDeleted() },
			command: func(w *world) events.SimCommand { return w.after(events.KindCreate, "10.0.0.1") },
			want:    outcome{servedAt: "10.0.0.1", cert: newCert, minted: 1, announced: enabled}},
		{name: "enable a revoked SIM: a fresh certificate, the revoked one detached",
			given:   func(w *world) { w.revoked() },
			command: func(w *world) events.SimCommand { return w.after(events.KindCreate, "10.0.0.1") },
			want:    outcome{servedAt: "10.0.0.1", cert: newCert, minted: 1, announced: enabled}},

		// Stale commands and commands carried out.
		{name: "a stale update changes nothing",
			given: func(w *world) {
				w.active()
				w.must(w.after(events.KindUpdate, "10.0.0.6"))
			},
			command: func(w *world) events.SimCommand {
				cmd := w.after(events.KindUpdate, "10.0.0.5")
				cmd.BaseVersion, cmd.BaseCommand = cmd.BaseVersion-1, "older"
				return cmd
			},
			want: outcome{servedAt: "10.0.0.6", unchanged: true}},
		{name: "a create computed before the record existed never undoes a newer disable",
			given:   func(w *world) { w.disabled() },
			command: func(*world) events.SimCommand { return create("10.0.0.7") },
			want:    outcome{state: simrec.StateDisabled, unchanged: true}},
		{name: "a stale command clears the failure its earlier attempt recorded",
			given:   func(w *world) { w.disabled(); w.failed(create("10.0.0.7").CommandID()) },
			command: func(*world) events.SimCommand { return create("10.0.0.7") },
			want:    outcome{state: simrec.StateDisabled}},
		{name: "a command found carried out clears the failure its earlier attempt recorded",
			given:   func(w *world) { w.active(); w.failed(create("10.0.0.1").CommandID()) },
			command: func(*world) events.SimCommand { return create("10.0.0.1") },
			want:    outcome{servedAt: "10.0.0.1"}},
		{name: "a failure not cleared is only logged",
			given: func(w *world) {
				w.active()
				w.failed(create("10.0.0.1").CommandID())
				w.store.FailNext(simrectest.OpClearFailure, errors.New("dynamodb: 500"))
			},
			command: func(*world) events.SimCommand { return create("10.0.0.1") },
			want:    outcome{servedAt: "10.0.0.1", unchanged: true, failed: true}},

		// Reissue.
		{name: "reissue replaces the certificate and revokes the old one",
			given:   func(w *world) { w.active() },
			command: func(w *world) events.SimCommand { return w.after(events.KindReissue, "") },
			want:    outcome{servedAt: "10.0.0.1", cert: newCert, minted: 1, announced: reissued}},
		{name: "reissue stopped while revoking: the record points to the new certificate before the old one stops working",
			given: func(w *world) {
				w.active()
				w.had = w.record() // the SIM as it was
				w.iot.FailNext("UpdateCertificate", errBoom)
			},
			command: reissue,
			want: outcome{err: errBoom, state: simrec.StateActive, minted: 1, check: func(w *world) {
				rec, old := w.record(), w.had.Cert
				if rec.CertificateID() == old.ID || !slices.Equal(rec.Retiring, []string{old.ARN}) ||
					w.iot.Status(old.ID) != types.CertificateStatusActive || w.iot.Status(rec.CertificateID()) != types.CertificateStatusActive {
					w.t.Fatalf("record names %s, retiring %v; old %s is %s", rec.CertificateID(), rec.Retiring, old.ID, w.iot.Status(old.ID))
				}
			}}},
		{name: "reissue with Amazon's CA", authority: simrec.AuthorityAWS,
			given:   func(w *world) { w.active() },
			command: func(w *world) events.SimCommand { return w.after(events.KindReissue, "") },
			want:    outcome{servedAt: "10.0.0.1", cert: newCert, minted: 1, announced: reissued}},
		{name: "reissue redelivered after it finished changes nothing",
			given: func(w *world) {
				w.active()
				w.last = reissue(w)
				w.must(w.last)
			},
			command: func(w *world) events.SimCommand { return w.last },
			want:    outcome{servedAt: "10.0.0.1", cert: sameCert, unchanged: true}},
		{name: "reissue failing again while finishing its recorded certificate keeps it for the next delivery",
			given: func(w *world) {
				w.active()
				w.last = reissue(w)
				w.iot.FailNext("RegisterCertificate", errBoom, errBoom)
				if err := w.handle(w.last); !errors.Is(err, errBoom) {
					t.Fatalf("first attempt: %v", err)
				}
			},
			command: func(w *world) events.SimCommand { return w.last },
			want: outcome{err: errBoom, state: simrec.StateActive, check: func(w *world) {
				if rec := w.record(); rec.Next == nil || rec.ClaimedBy != w.last.CommandID() || w.minted() != 2 {
					w.t.Fatalf("the recorded certificate must stay for the next delivery: next %v, claimed by %q, minted %d", rec.Next, rec.ClaimedBy, w.minted())
				}
				w.must(w.last)
				w.serving("10.0.0.1")
			}}},
		{name: "reissue of a disabled SIM is refused; operators are told",
			given:   func(w *world) { w.disabled() },
			command: func(w *world) events.SimCommand { return w.after(events.KindReissue, "") },
			want:    outcome{state: simrec.StateDisabled, unchanged: true, refusals: 1}},
		{name: "reissue of a SIM without a record is refused; operators are told",
			given: func(*world) {},
			command: func(*world) events.SimCommand {
				return events.SimCommand{Kind: events.KindReissue, ICCID: sim, ID: "reissue-1"}
			},
			want: outcome{refusals: 1}},
		{name: "a refusal whose notification is lost is only logged",
			given:   func(w *world) { w.disabled(); w.notes.FailNext(errors.New("sns: 500")) },
			command: func(w *world) events.SimCommand { return w.after(events.KindReissue, "") },
			want:    outcome{state: simrec.StateDisabled, unchanged: true}},

		// What the provisioner does not do, and lost announcements.
		{name: "a lost announcement is only logged: the SIM is provisioned",
			given:   func(w *world) { w.notes.FailNext(errors.New("sns: 500")) },
			command: func(*world) events.SimCommand { return create("10.0.0.1") },
			want:    outcome{servedAt: "10.0.0.1", minted: 1}},
		{name: "a disable is no command of the provisioner's",
			given:   func(w *world) { w.active() },
			command: func(w *world) events.SimCommand { return w.after(events.KindDisable, "10.0.0.1") },
			want:    outcome{err: events.ErrInvalidCommand, servedAt: "10.0.0.1", unchanged: true}},

		// Claims and conflicts.
		{name: "another command's claim that outlasts the wait: busy, nothing changed",
			given:   func(w *world) { w.active(); w.claim("other", time.Hour) },
			command: func(w *world) events.SimCommand { return w.after(events.KindUpdate, "10.0.0.2") },
			want:    outcome{err: simrec.ErrBusy, state: simrec.StateActive, unchanged: true}},
		{name: "another command's claim that expires while waiting: its claimant died, the command takes over",
			given:   func(w *world) { w.active(); w.claim("other", 3*time.Second) },
			command: func(w *world) events.SimCommand { return w.after(events.KindUpdate, "10.0.0.2") },
			want:    outcome{servedAt: "10.0.0.2", cert: sameCert, announced: updated}},
		{name: "another command's claim released while waiting",
			given: func(w *world) {
				w.active()
				w.claim("other", time.Hour)
				w.clock.OnSleep = func() { w.write((*simrec.Record).Release) }
			},
			command: func(w *world) events.SimCommand { return w.after(events.KindUpdate, "10.0.0.2") },
			want:    outcome{servedAt: "10.0.0.2", cert: sameCert, announced: updated}},
		{name: "a record created meanwhile is read again",
			given:   func(w *world) { w.store.FailNext(simrectest.OpCreate, simrec.ErrConflict) },
			command: func(*world) events.SimCommand { return create("10.0.0.1") },
			want:    outcome{servedAt: "10.0.0.1", minted: 1, announced: enabled}},
		{name: "a record changed during the command is read again",
			given: func(w *world) {
				w.active()
				w.store.FailNext(simrectest.OpUpdate, nil, simrec.ErrConflict)
			},
			command: func(w *world) events.SimCommand { return w.after(events.KindUpdate, "10.0.0.2") },
			want:    outcome{servedAt: "10.0.0.2", cert: sameCert, announced: updated}},
		{name: "a record that keeps changing fails the attempt",
			given: func(w *world) {
				w.active()
				w.store.FailNext(simrectest.OpUpdate, simrec.ErrConflict, simrec.ErrConflict, simrec.ErrConflict, simrec.ErrConflict)
			},
			command: func(w *world) events.SimCommand { return w.after(events.KindUpdate, "10.0.0.2") },
			want:    outcome{err: simrec.ErrConflict, servedAt: "10.0.0.1", unchanged: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			authority := tc.authority
			if authority == "" {
				authority = simrec.AuthorityOwn
			}
			w := newWorld(t, authority)
			tc.given(w)
			before, _ := w.store.Memory.Get(context.Background(), sim)
			minted := w.minted()
			announced, refusals := w.notes.Sent()
			cmd := tc.command(w)
			start := w.clock.Now()
			err := w.handle(cmd)
			if !errors.Is(err, tc.want.err) || (tc.want.err == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.want.err)
			}
			if waited := w.clock.Now().Sub(start); waited > timing.Wait {
				t.Errorf("waited %v for a claim, more than %v", waited, timing.Wait)
			}
			w.safe()
			tc.want.verify(w, before, minted, len(announced), len(refusals))
		})
	}
}

func (want outcome) verify(w *world, before simrec.Record, minted, announced, refusals int) {
	w.t.Helper()
	if want.servedAt != "" {
		rec := w.serving(want.servedAt)
		switch old := before.CertificateID(); want.cert {
		case sameCert:
			if rec.CertificateID() != old {
				w.t.Errorf("certificate %s, want the one the SIM had (%s)", rec.CertificateID(), old)
			}
		case newCert:
			if rec.CertificateID() == old {
				w.t.Errorf("the SIM kept its certificate %s", old)
			}
			w.retired(old)
		}
	} else if want.state != "" {
		if rec := w.record(); rec.CurrentState() != want.state || rec.Active != (want.state == simrec.StateActive) {
			w.t.Errorf("record %s (active %v), want %s", rec.CurrentState(), rec.Active, want.state)
		}
	} else if _, err := w.store.Memory.Get(context.Background(), sim); !errors.Is(err, simrec.ErrNotFound) {
		w.t.Errorf("a record was created: %v", err)
	}
	if rec, err := w.store.Memory.Get(context.Background(), sim); err == nil {
		if want.unchanged && rec.Version != before.Version {
			w.t.Errorf("the record was written (version %d → %d)", before.Version, rec.Version)
		}
		if (rec.LastFailure != nil) != want.failed {
			w.t.Errorf("last failure %+v, want one: %v", rec.LastFailure, want.failed)
		}
	}
	if got := w.minted() - minted; got != want.minted {
		w.t.Errorf("minted %d certificates, want %d", got, want.minted)
	}
	gotAnnounced, gotRefusals := w.notes.Sent()
	if got := gotAnnounced[announced:]; !slices.Equal(got, want.announced) {
		w.t.Errorf("announced %q, want %q", got, want.announced)
	}
	if got := gotRefusals[refusals:]; len(got) != want.refusals || (len(got) > 0 && !strings.Contains(got[0], "refused")) {
		w.t.Errorf("failure notifications %q, want %d refusals", got, want.refusals)
	}
	if want.check != nil {
		want.check(w)
	}
}

// An attempt that died after any step (the call took effect, its answer
// never came back) is finished by a newer command once the claim expired,
// from what the record names: the certificate minted first is the one that
// serves, nothing is left over.
func TestInterruptedAttemptsAreFinishedFromTheRecord(t *testing.T) {
	t.Parallel()
	boom := errors.New("killed")
	lost := iotfake.AfterEffect{Err: boom}
	written := simrectest.AfterWrite{Err: boom}
	tests := []struct {
		name      string
		authority string
		given     func(w *world)
		first     func(w *world) events.SimCommand
		kill      func(w *world) // the step after which the attempt dies
		minted    int
	}{
		{"create, after claiming the new record", "", nil, nil, func(w *world) { w.store.FailNext(simrectest.OpCreate, written) }, 1},
		{"create, after recording the certificate", "", nil, nil, func(w *world) { w.store.FailNext(simrectest.OpUpdate, written) }, 1},
		{"create, after registering the certificate", "", nil, nil, func(w *world) { w.iot.FailNext("RegisterCertificate", lost) }, 1},
		{"create, after making the Thing", "", nil, nil, func(w *world) { w.iot.FailNext("CreateThing", lost) }, 1},
		{"create, after adding the Thing to its group", "", nil, nil, func(w *world) { w.iot.FailNext("AddThingToThingGroup", lost) }, 1},
		{"create, after attaching the certificate", "", nil, nil, func(w *world) { w.iot.FailNext("AttachThingPrincipal", lost) }, 1},
		{"create, after attaching the policy", "", nil, nil, func(w *world) { w.iot.FailNext("AttachPolicy", lost) }, 1},
		{"create, after recording the SIM active", "", nil, nil, func(w *world) { w.store.FailNext(simrectest.OpUpdate, nil, written) }, 1},
		{"create with Amazon's CA, after recording the certificate", simrec.AuthorityAWS, nil, nil,
			func(w *world) { w.store.FailNext(simrectest.OpUpdate, written) }, 1},
		{"create with Amazon's CA, after activating the certificate", simrec.AuthorityAWS, nil, nil,
			func(w *world) { w.iot.FailNext("UpdateCertificate", lost) }, 1},
		{"re-enable, after the claim", "", (*world).disabled, nil, func(w *world) { w.store.FailNext(simrectest.OpUpdate, written) }, 0},
		{"re-enable, after reactivating the certificate", "", (*world).disabled, nil, func(w *world) { w.iot.FailNext("UpdateCertificate", lost) }, 0},
		{"reissue, after recording the new certificate", "", (*world).active, reissue,
			func(w *world) { w.store.FailNext(simrectest.OpUpdate, nil, written) }, 1},
		{"reissue, after switching the record to it", "", (*world).active, reissue,
			func(w *world) { w.store.FailNext(simrectest.OpUpdate, nil, nil, written) }, 1},
		{"reissue, after revoking the old certificate", "", (*world).active, reissue,
			func(w *world) { w.iot.FailNext("UpdateCertificate", lost) }, 1},
		{"reissue, after detaching the old certificate", "", (*world).active, reissue,
			func(w *world) { w.iot.FailNext("DetachThingPrincipal", lost) }, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			authority := tc.authority
			if authority == "" {
				authority = simrec.AuthorityOwn
			}
			w := newWorld(t, authority)
			if tc.given != nil {
				tc.given(w)
			}
			first := create("10.0.0.1")
			if tc.first != nil {
				first = tc.first(w)
			} else if tc.given != nil {
				first = w.after(events.KindCreate, "10.0.0.1")
			}
			minted := w.minted()
			tc.kill(w)
			if err := w.handle(first); !errors.Is(err, boom) {
				t.Fatalf("the attempt was not killed: %v", err)
			}
			w.safe()
			w.clock.Advance(2 * timing.TTL) // its claim expires
			if err := w.handle(w.after(events.KindUpdate, "10.0.0.2")); err != nil {
				t.Fatal(err)
			}
			w.serving("10.0.0.2")
			if got := w.minted() - minted; got != tc.minted {
				t.Fatalf("minted %d certificates, want %d: the one the record named must serve", got, tc.minted)
			}
		})
	}
}

func reissue(w *world) events.SimCommand { return w.after(events.KindReissue, "") }

// Every call a command makes fails once, before it took effect or after
// (its answer lost); the same command redelivered — its claim still
// running — finishes: the invariant holds, no certificate is left over.
func TestEveryFailedCallIsFinishedByTheRedelivery(t *testing.T) {
	t.Parallel()
	for _, sc := range scenarios() {
		for _, f := range sc.calls {
			for _, after := range []bool{false, true} {
				if after && !f.writes {
					continue
				}
				name := sc.name + ": " + f.name + " fails"
				if after {
					name = sc.name + ": " + f.name + " answer lost"
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					w := newWorld(t, sc.authority)
					sc.given(w)
					had, _ := w.store.Memory.Get(context.Background(), sim)
					before := had.CertificateID() // "" for a new SIM
					cmd := sc.command(w)
					minted := w.minted()
					f.inject(w, after)
					err := w.handle(cmd)
					if stepOf(err) != f.step || !errors.Is(err, errBoom) {
						t.Fatalf("err = %v (step %q), want the failure at step %q", err, stepOf(err), f.step)
					}
					w.safe()
					if err := w.handle(cmd); err != nil {
						t.Fatalf("redelivery: %v", err)
					}
					rec := w.serving(sc.ip)
					wantMinted := sc.minted
					if (!after && f.remintIfFails) || (after && f.remintIfLost) {
						wantMinted++
					}
					if got := w.minted() - minted; got != wantMinted {
						t.Fatalf("minted %d certificates, want %d", got, wantMinted)
					}
					if sc.fresh == (rec.CertificateID() == before) {
						t.Fatalf("certificate %s, had %s: fresh %v", rec.CertificateID(), before, sc.fresh)
					}
					// The announcement goes with the attempt whose last write
					// landed: an answer of that write lost for good loses it.
					announced, _ := w.notes.Sent()
					want := sc.announced
					if after && f.last {
						want = nil
					}
					if got := announced[sc.announcedBefore:]; !slices.Equal(got, want) {
						t.Fatalf("announced %q, want %q", got, want)
					}
				})
			}
		}
	}
}

var errBoom = errors.New("boom")

// call is one call a command makes, failed by inject.
type call struct {
	name   string
	inject func(w *world, after bool)
	step   string
	writes bool // the call changes something: its answer can be lost after the change
	// A certificate minted but not recorded is discarded and the redelivery
	// mints another: when the call fails (remintIfFails) or when its answer
	// is lost (remintIfLost: Amazon's certificate is then INACTIVE in IoT
	// Core, attached to nothing).
	remintIfFails, remintIfLost bool
	// last: the command's last write, after which it announces.
	last bool
}

func iotCall(op string, n int, step string, writes bool) call {
	return call{name: op + " #" + string(rune('0'+n)), step: step, writes: writes, inject: func(w *world, after bool) {
		var err error = errBoom
		if after {
			err = iotfake.AfterEffect{Err: errBoom}
		}
		w.iot.FailNext(op, append(make([]error, n-1), err)...)
	}}
}

func storeCall(op string, n int, step string) call {
	return call{name: "store " + op + " #" + string(rune('0'+n)), step: step, writes: op != simrectest.OpGet, inject: func(w *world, after bool) {
		var err error = errBoom
		if after {
			err = simrectest.AfterWrite{Err: errBoom}
		}
		w.store.FailNext(op, append(make([]error, n-1), err)...)
	}}
}

var (
	mintCall = call{name: "Mint", step: app.StepMint, inject: func(w *world, _ bool) { w.ca.failNext = errBoom }}
	sealCall = call{name: "Seal", step: app.StepSeal, remintIfFails: true, inject: func(w *world, _ bool) { w.sealer.failNext = errBoom }}
)

func (c call) remint(ifFails, ifLost bool) call {
	c.remintIfFails, c.remintIfLost = ifFails, ifLost
	return c
}
func (c call) lastWrite() call { c.last = true; return c }

type scenario struct {
	name, authority string
	given           func(w *world)
	command         func(w *world) events.SimCommand
	calls           []call
	ip              string
	fresh           bool // a fresh certificate serves
	minted          int
	announced       []string
	announcedBefore int
}

func scenarios() []scenario {
	thing := []call{
		iotCall("DescribeThing", 1, app.StepThing, false),
		iotCall("CreateThing", 1, app.StepThing, true),
		iotCall("AddThingToThingGroup", 1, app.StepThing, true),
	}
	attach := []call{
		iotCall("AttachThingPrincipal", 1, app.StepAttachThing, true),
		iotCall("AttachPolicy", 1, app.StepAttachPolicy, true),
	}
	concat := func(parts ...[]call) []call { return slices.Concat(parts...) }
	newSIM := func(*world) {}
	return []scenario{
		{name: "create with the own CA", authority: simrec.AuthorityOwn, given: newSIM,
			command: func(*world) events.SimCommand { return create("10.0.0.1") },
			calls: concat([]call{
				storeCall(simrectest.OpGet, 1, simrec.StepLoad),
				storeCall(simrectest.OpCreate, 1, simrec.StepClaim),
				mintCall, sealCall,
				storeCall(simrectest.OpUpdate, 1, app.StepRecordNext).remint(true, false),
				iotCall("RegisterCertificate", 1, app.StepRegister, true),
			}, thing, attach, []call{storeCall(simrectest.OpUpdate, 2, app.StepRecordActive).lastWrite()}),
			ip: "10.0.0.1", fresh: true, minted: 1, announced: enabled},
		{name: "create with Amazon's CA", authority: simrec.AuthorityAWS, given: newSIM,
			command: func(*world) events.SimCommand { return create("10.0.0.1") },
			calls: concat([]call{
				storeCall(simrectest.OpGet, 1, simrec.StepLoad),
				storeCall(simrectest.OpCreate, 1, simrec.StepClaim),
				iotCall("CreateKeysAndCertificate", 1, app.StepMint, true).remint(false, true),
				sealCall,
				storeCall(simrectest.OpUpdate, 1, app.StepRecordNext).remint(true, false),
			}, thing, attach, []call{
				iotCall("UpdateCertificate", 1, app.StepActivate, true),
				storeCall(simrectest.OpUpdate, 2, app.StepRecordActive).lastWrite(),
			}),
			ip: "10.0.0.1", fresh: true, minted: 1, announced: enabled},
		{name: "re-enable", authority: simrec.AuthorityOwn, given: (*world).disabled,
			command: func(w *world) events.SimCommand { return w.after(events.KindCreate, "10.0.0.2") },
			calls: concat([]call{
				storeCall(simrectest.OpGet, 1, simrec.StepLoad),
				storeCall(simrectest.OpUpdate, 1, simrec.StepClaim),
				iotCall("UpdateCertificate", 1, app.StepActivate, true),
				iotCall("DescribeThing", 1, app.StepThing, false),
				iotCall("AddThingToThingGroup", 1, app.StepThing, true),
			}, attach, []call{
				storeCall(simrectest.OpUpdate, 2, app.StepRecordActive).lastWrite(),
			}),
			ip: "10.0.0.2", announced: enabled, announcedBefore: 1},
		{name: "IP change", authority: simrec.AuthorityOwn, given: (*world).active,
			command: func(w *world) events.SimCommand { return w.after(events.KindUpdate, "10.0.0.2") },
			calls: []call{
				storeCall(simrectest.OpGet, 1, simrec.StepLoad),
				storeCall(simrectest.OpUpdate, 1, simrec.StepClaim),
				storeCall(simrectest.OpUpdate, 2, app.StepRecordActive).lastWrite(),
			},
			ip: "10.0.0.2", announced: updated, announcedBefore: 1},
		{name: "reissue", authority: simrec.AuthorityOwn, given: (*world).active, command: reissue,
			calls: concat([]call{
				storeCall(simrectest.OpGet, 1, simrec.StepLoad),
				storeCall(simrectest.OpUpdate, 1, simrec.StepClaim),
				mintCall, sealCall,
				storeCall(simrectest.OpUpdate, 2, app.StepRecordNext).remint(true, false),
				iotCall("RegisterCertificate", 1, app.StepRegister, true),
				iotCall("DescribeThing", 1, app.StepThing, false),
				iotCall("AddThingToThingGroup", 1, app.StepThing, true),
			}, attach, []call{
				storeCall(simrectest.OpUpdate, 3, app.StepRecordActive),
				iotCall("UpdateCertificate", 1, app.StepRetire, true),
				iotCall("DetachThingPrincipal", 1, app.StepRetire, true),
				storeCall(simrectest.OpUpdate, 4, app.StepRecordRetired).lastWrite(),
			}),
			ip: "10.0.0.1", fresh: true, minted: 1, announced: reissued, announcedBefore: 1},
		enrolScenario(),
	}
}

func TestNewRefusesMissingDependencies(t *testing.T) {
	t.Parallel()
	w := newWorld(t, simrec.AuthorityOwn)
	full := app.Deps{Store: w.store, IoT: nil, Authority: w.ca, Sealer: w.sealer, Announcer: w.notes, Notifier: w.notes}
	tests := []struct {
		name   string
		change func(d *app.Deps)
		timing simrec.ClaimTiming
	}{
		{"no IoT Core", func(*app.Deps) {}, timing},
		{"no claim TTL", func(d *app.Deps) { d.IoT = w.p.IoT }, simrec.ClaimTiming{Poll: time.Second}},
	}
	for _, tc := range tests {
		d := full
		d.Logger = w.p.Logger
		tc.change(&d)
		if _, err := app.New(d, tc.timing); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	d := full
	d.IoT, d.Logger = w.p.IoT, w.p.Logger
	if _, err := app.New(d, timing); err != nil {
		t.Fatalf("without a clock (the wall clock): %v", err)
	}
}

func stepOf(err error) string {
	var s interface{ Step() string }
	if errors.As(err, &s) {
		return s.Step()
	}
	return ""
}

// The Amazon-issued certificate a lost CreateKeysAndCertificate answer
// leaves behind is INACTIVE and attached to nothing, and nothing touches it.
func TestALostAmazonCertificateStaysInactiveAndAlone(t *testing.T) {
	t.Parallel()
	w := newWorld(t, simrec.AuthorityAWS)
	w.iot.FailNext("CreateKeysAndCertificate", iotfake.AfterEffect{Err: errBoom})
	if err := w.handle(create("10.0.0.1")); !errors.Is(err, errBoom) {
		t.Fatalf("err = %v", err)
	}
	orphan := w.iot.Certificates()
	w.must(create("10.0.0.1"))
	rec := w.serving("10.0.0.1")
	if len(orphan) != 1 || orphan[0] == rec.CertificateID() || w.iot.Status(orphan[0]) != types.CertificateStatusInactive {
		t.Fatalf("orphan %v (%s), SIM's %s", orphan, w.iot.Status(orphan[0]), rec.CertificateID())
	}
}
