package app_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/iotcore/iotfake"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simrec/simrectest"
	"github.com/simbridge/simbridge/libs/steps"
	"github.com/simbridge/simbridge/services/deactivator/internal/adapters"
	"github.com/simbridge/simbridge/services/deactivator/internal/app"
)

const sim = "8988280666000000001"

var timing = simrec.ClaimTiming{TTL: time.Minute, Wait: 5 * time.Second, Poll: time.Second}

// world is the deactivator on the in-memory IoT Core (through the real
// adapter) and store, with a clock that moves only when slept on.
type world struct {
	t     *testing.T
	iot   *iotfake.IoT
	store *simrectest.Store
	clock *simrectest.Clock
	notes *simrectest.Notes
	d     *app.Deactivator
	// cert and next are the SIM's certificates as given.
	cert, next *simrec.Credentials
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, iot: iotfake.New(), store: simrectest.NewStore(), clock: simrectest.NewClock(), notes: &simrectest.Notes{}}
	d, err := app.New(app.Deps{Store: w.store, Certificates: adapters.Certificates{IoTCore: w.iot}, Notifier: w.notes,
		Logger: slog.New(slog.DiscardHandler), Clock: w.clock}, timing)
	if err != nil {
		t.Fatal(err)
	}
	w.d = d
	return w
}

// certificate is how a certificate of the SIM stands in IoT Core.
type certificate int

const (
	none         certificate = iota // the record names none
	unregistered                    // own CA, recorded, IoT Core never heard of it
	registered                      // own CA, registered (ACTIVE); the record has no ARN for it yet
	amazon                          // Amazon's CA: created INACTIVE, ARN recorded
)

func (w *world) certificate(c certificate) *simrec.Credentials {
	w.t.Helper()
	if c == none {
		return nil
	}
	if c == amazon {
		created, err := w.iot.CreateCertificate(context.Background())
		if err != nil {
			w.t.Fatal(err)
		}
		return &simrec.Credentials{ID: created.ID, ARN: created.ARN, PEM: created.PEM, KeyCiphertext: []byte{1}, Authority: simrec.AuthorityAWS}
	}
	certPEM, id, err := iotfake.NewCertificate(sim)
	if err != nil {
		w.t.Fatal(err)
	}
	creds := &simrec.Credentials{ID: id, PEM: certPEM, KeyCiphertext: []byte{1}, Authority: simrec.AuthorityOwn}
	if c == registered {
		if _, _, err := w.iot.Register(context.Background(), certPEM, "CA"); err != nil {
			w.t.Fatal(err)
		}
	}
	return creds
}

// sim stores the SIM's record: state, its current certificate (registered,
// with its ARN, in the given status) and one being issued.
func (w *world) sim(state simrec.State, status types.CertificateStatus, next certificate) {
	w.t.Helper()
	ctx := context.Background()
	rec := simrec.Record{ICCID: sim, IP: "10.0.0.1", Status: "Enabled", ThingName: sim, LastCommand: "create-1"}
	if status != "" {
		w.cert = w.certificate(registered)
		arn, _ := w.iot.ARN(ctx, w.cert.ID)
		w.cert.ARN = arn
		if err := w.iot.SetStatus(ctx, w.cert.ID, status); err != nil {
			w.t.Fatal(err)
		}
		rec.Cert = w.cert
	}
	w.next = w.certificate(next)
	rec.Next = w.next
	rec.SetState(state)
	if _, err := w.store.Memory.Create(ctx, rec); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) record() simrec.Record { return w.store.Record(w.t, sim) }

// command is a command of kind computed against the record as it is now,
// as sim-poller and operators compute them.
func (w *world) command(kind events.Kind, status string) events.SimCommand {
	rec := w.record()
	return events.SimCommand{Kind: kind, ICCID: sim, IP: rec.IP, Status: status, BaseVersion: rec.Version, BaseCommand: rec.LastCommand,
		ID: string(kind) + "-2"}
}

func (w *world) status(c *simrec.Credentials) types.CertificateStatus {
	if c == nil {
		return ""
	}
	return w.iot.Status(c.ID)
}

// claim makes another command hold the record's claim for d; with d = 0
// it claimed and released it: it wrote the record last.
func (w *world) claim(holder string, d time.Duration) {
	w.store.Change(w.t, sim, func(r *simrec.Record) {
		r.LastCommand, r.ClaimedBy, r.ClaimedUntil = holder, holder, w.clock.Now().Add(d)
		if d == 0 {
			r.Release()
		}
	})
}

// failed records a failure of command id on the record, as the consumer does.
func (w *world) failed(id string) {
	w.t.Helper()
	if err := w.store.Memory.RecordFailure(context.Background(), sim, simrec.Failure{Step: "x", Reason: "boom", Command: id}); err != nil {
		w.t.Fatal(err)
	}
}

// want is what a user of the system notices after a command.
type want struct {
	err       error
	state     simrec.State
	status    string                  // the 1NCE status on the record
	cert      types.CertificateStatus // of the certificate the SIM had
	next      types.CertificateStatus // of the certificate being issued it had
	keepsNext bool                    // the record still names the certificate being issued
	retiring  int
	unchanged bool // no write at all
	// failed: the record still shows a failed attempt.
	failed    bool
	successes []string
	failures  int
	calls     map[string]int // IoT Core calls made, by operation
}

func (w *world) check(before simrec.Record, calls map[string]int, got error, want want) {
	w.t.Helper()
	if !errors.Is(got, want.err) || (want.err == nil) != (got == nil) {
		w.t.Fatalf("err = %v, want %v", got, want.err)
	}
	rec, err := w.store.Memory.Get(context.Background(), sim)
	if err != nil {
		if want.state != "" {
			w.t.Fatal(err)
		}
		rec = simrec.Record{}
	}
	if want.unchanged && rec.Version != before.Version {
		w.t.Errorf("the record was written (version %d → %d)", before.Version, rec.Version)
	}
	if want.state != "" && (rec.CurrentState() != want.state || rec.Active != (want.state == simrec.StateActive)) {
		w.t.Errorf("record %s (active %v), want %s", rec.CurrentState(), rec.Active, want.state)
	}
	if (rec.LastFailure != nil) != want.failed {
		w.t.Errorf("last failure %+v, want one: %v", rec.LastFailure, want.failed)
	}
	if want.status != "" && rec.Status != want.status {
		w.t.Errorf("1NCE status on the record %q, want %q", rec.Status, want.status)
	}
	if want.err == nil && want.state != "" && rec.ClaimedBy != "" {
		w.t.Errorf("claim by %s left on the record", rec.ClaimedBy)
	}
	if got := w.status(w.cert); got != want.cert {
		w.t.Errorf("certificate %s, want %s", got, want.cert)
	}
	if got := w.status(w.next); got != want.next {
		w.t.Errorf("certificate being issued %q, want %q", got, want.next)
	}
	if (rec.Next != nil) != want.keepsNext || len(rec.Retiring) != want.retiring {
		w.t.Errorf("record next %v retiring %v, want next kept %v and %d retiring", rec.Next != nil, rec.Retiring, want.keepsNext, want.retiring)
	}
	successes, failures := w.notes.Sent()
	if !slices.Equal(successes, want.successes) {
		w.t.Errorf("success notifications %q, want %q", successes, want.successes)
	}
	if got := failures; len(got) != want.failures {
		w.t.Errorf("failure notifications %q, want %d", got, want.failures)
	}
	for op, n := range want.calls {
		if got := w.iot.Calls(op) - calls[op]; got != n {
			w.t.Errorf("%s called %d times, want %d", op, got, n)
		}
	}
}

var errSNS = errors.New("sns: 500")

var (
	disabled = []string{events.MessageDisabled}
	revoked  = []string{events.MessageRevoked}
)

// Every branch of disable and revoke, on the in-memory IoT Core and store.
func TestHandle(t *testing.T) {
	t.Parallel()
	active, inactive, revokedCert := types.CertificateStatusActive, types.CertificateStatusInactive, types.CertificateStatusRevoked
	tests := []struct {
		name    string
		given   func(w *world)
		command func(w *world) events.SimCommand
		want    want
	}{
		// Disable.
		{name: "disable an active SIM",
			given:   func(w *world) { w.sim(simrec.StateActive, active, none) },
			command: func(w *world) events.SimCommand { return w.command(events.KindDisable, "Disabled") },
			want:    want{state: simrec.StateDisabled, status: "Disabled", cert: inactive, successes: disabled}},
		{name: "disable without a 1NCE status keeps the recorded one (SIM absent from the listing)",
			given:   func(w *world) { w.sim(simrec.StateActive, active, none) },
			command: func(w *world) events.SimCommand { return w.command(events.KindDisable, "") },
			want:    want{state: simrec.StateDisabled, status: "Enabled", cert: inactive, successes: disabled}},
		{name: "disable sets a registered certificate being issued INACTIVE too",
			given:   func(w *world) { w.sim(simrec.StateActive, active, registered) },
			command: func(w *world) events.SimCommand { return w.command(events.KindDisable, "Disabled") },
			want:    want{state: simrec.StateDisabled, cert: inactive, next: inactive, keepsNext: true, successes: disabled}},
		{name: "disable passes over a certificate being issued that IoT Core never heard of",
			given:   func(w *world) { w.sim(simrec.StateActive, active, unregistered) },
			command: func(w *world) events.SimCommand { return w.command(events.KindDisable, "Disabled") },
			want:    want{state: simrec.StateDisabled, cert: inactive, keepsNext: true, successes: disabled}},
		{name: "disable a SIM whose certificate an operator revoked out of band",
			given:   func(w *world) { w.sim(simrec.StateActive, revokedCert, none) },
			command: func(w *world) events.SimCommand { return w.command(events.KindDisable, "Disabled") },
			want:    want{state: simrec.StateDisabled, cert: revokedCert, successes: disabled}},
		{name: "disable a pending SIM (first certificate being issued): no news",
			given:   func(w *world) { w.sim(simrec.StatePending, "", unregistered) },
			command: func(w *world) events.SimCommand { return w.command(events.KindDisable, "Disabled") },
			want:    want{state: simrec.StateDisabled, keepsNext: true}},
		{name: "disable a disabled SIM with the status recorded: nothing to do",
			given:   func(w *world) { w.sim(simrec.StateDisabled, inactive, none) },
			command: func(w *world) events.SimCommand { return w.command(events.KindDisable, "Enabled") },
			want:    want{state: simrec.StateDisabled, cert: inactive, unchanged: true, calls: map[string]int{"UpdateCertificate": 0}}},
		{name: "disable a disabled SIM records a new 1NCE status quietly",
			given:   func(w *world) { w.sim(simrec.StateDisabled, inactive, none) },
			command: func(w *world) events.SimCommand { return w.command(events.KindDisable, "Disabled") },
			want:    want{state: simrec.StateDisabled, status: "Disabled", cert: inactive}},
		{name: "disable a revoked SIM: it stays revoked, its certificate untouched, the status recorded",
			given:   func(w *world) { w.sim(simrec.StateRevoked, revokedCert, none) },
			command: func(w *world) events.SimCommand { return w.command(events.KindDisable, "Disabled") },
			want:    want{state: simrec.StateRevoked, status: "Disabled", cert: revokedCert, calls: map[string]int{"UpdateCertificate": 0}}},
		{name: "disable a revoked SIM being re-enabled sets the certificate being issued INACTIVE",
			given:   func(w *world) { w.sim(simrec.StateRevoked, revokedCert, registered) },
			command: func(w *world) events.SimCommand { return w.command(events.KindDisable, "Disabled") },
			want:    want{state: simrec.StateRevoked, cert: revokedCert, next: inactive, keepsNext: true}},
		{name: "a finished disable redelivered leaves the certificate being issued alone",
			given: func(w *world) {
				w.sim(simrec.StateDisabled, inactive, registered)
				w.claim("disable-2", 0)
			},
			command: func(w *world) events.SimCommand { return w.command(events.KindDisable, "Enabled") },
			want: want{state: simrec.StateDisabled, cert: inactive, next: active, keepsNext: true, unchanged: true,
				calls: map[string]int{"UpdateCertificate": 0}}},

		// Revoke.
		{name: "revoke an active SIM",
			given:   func(w *world) { w.sim(simrec.StateActive, active, none) },
			command: func(w *world) events.SimCommand { return w.command(events.KindRevoke, "") },
			want:    want{state: simrec.StateRevoked, cert: revokedCert, successes: revoked}},
		{name: "revoke drops a certificate being issued that IoT Core never heard of",
			given:   func(w *world) { w.sim(simrec.StateActive, active, unregistered) },
			command: func(w *world) events.SimCommand { return w.command(events.KindRevoke, "") },
			want:    want{state: simrec.StateRevoked, cert: revokedCert, successes: revoked}},
		{name: "revoke retires a registered certificate being issued, its ARN looked up",
			given:   func(w *world) { w.sim(simrec.StateActive, active, registered) },
			command: func(w *world) events.SimCommand { return w.command(events.KindRevoke, "") },
			want: want{state: simrec.StateRevoked, cert: revokedCert, next: revokedCert, retiring: 1, successes: revoked,
				calls: map[string]int{"DescribeCertificate": 1}}},
		{name: "revoke retires an Amazon certificate being issued, its ARN recorded",
			given:   func(w *world) { w.sim(simrec.StateActive, active, amazon) },
			command: func(w *world) events.SimCommand { return w.command(events.KindRevoke, "") },
			want: want{state: simrec.StateRevoked, cert: revokedCert, next: revokedCert, retiring: 1, successes: revoked,
				calls: map[string]int{"DescribeCertificate": 0}}},
		{name: "revoke a pending SIM without a certificate",
			given:   func(w *world) { w.sim(simrec.StatePending, "", none) },
			command: func(w *world) events.SimCommand { return w.command(events.KindRevoke, "") },
			want:    want{state: simrec.StateRevoked, successes: revoked, calls: map[string]int{"UpdateCertificate": 0}}},
		{name: "revoke a disabled SIM",
			given:   func(w *world) { w.sim(simrec.StateDisabled, inactive, none) },
			command: func(w *world) events.SimCommand { return w.command(events.KindRevoke, "") },
			want:    want{state: simrec.StateRevoked, cert: revokedCert, successes: revoked}},
		{name: "revoke a revoked SIM: nothing to do",
			given:   func(w *world) { w.sim(simrec.StateRevoked, revokedCert, none) },
			command: func(w *world) events.SimCommand { return w.command(events.KindRevoke, "") },
			want:    want{state: simrec.StateRevoked, cert: revokedCert, unchanged: true}},
		{name: "revoke a SIM whose certificate IoT Core no longer knows",
			given: func(w *world) {
				w.sim(simrec.StateActive, "", none)
				w.store.Change(t, sim, func(r *simrec.Record) { r.Cert = w.certificate(unregistered) })
			},
			command: func(w *world) events.SimCommand { return w.command(events.KindRevoke, "") },
			want:    want{state: simrec.StateRevoked, successes: revoked}},

		// Commands that change nothing.
		{name: "a stale disable changes nothing",
			given: func(w *world) { w.sim(simrec.StateActive, active, none) },
			command: func(w *world) events.SimCommand {
				cmd := w.command(events.KindDisable, "Disabled")
				cmd.BaseVersion, cmd.BaseCommand = cmd.BaseVersion-1, "older"
				return cmd
			},
			want: want{state: simrec.StateActive, status: "Enabled", cert: active, unchanged: true}},
		{name: "a stale revoke clears the failure its earlier attempt recorded",
			given: func(w *world) {
				w.sim(simrec.StateActive, active, none)
				w.failed("revoke-2")
			},
			command: func(w *world) events.SimCommand {
				cmd := w.command(events.KindRevoke, "")
				cmd.BaseVersion = 0
				return cmd
			},
			want: want{state: simrec.StateActive, cert: active, calls: map[string]int{"UpdateCertificate": 0}}},
		{name: "a command found carried out clears the failure its earlier attempt recorded",
			given: func(w *world) {
				w.sim(simrec.StateRevoked, revokedCert, none)
				w.failed("revoke-2")
			},
			command: func(w *world) events.SimCommand { return w.command(events.KindRevoke, "") },
			want:    want{state: simrec.StateRevoked, cert: revokedCert}},
		{name: "a failure not cleared is only logged",
			given: func(w *world) {
				w.sim(simrec.StateRevoked, revokedCert, none)
				w.failed("revoke-2")
				w.store.FailNext(simrectest.OpClearFailure, errors.New("dynamodb: 500"))
			},
			command: func(w *world) events.SimCommand { return w.command(events.KindRevoke, "") },
			want:    want{state: simrec.StateRevoked, cert: revokedCert, unchanged: true, failed: true}},
		{name: "a command for an unknown SIM ends with one failure notification",
			given:   func(*world) {},
			command: func(*world) events.SimCommand { return events.SimCommand{Kind: events.KindDisable, ICCID: sim} },
			want:    want{failures: 1}},
		{name: "an unknown SIM whose failure notification is lost is retried",
			given:   func(w *world) { w.notes.FailNext(errSNS) },
			command: func(*world) events.SimCommand { return events.SimCommand{Kind: events.KindRevoke, ICCID: sim} },
			want:    want{err: errSNS}},
		{name: "a lost success notification is only logged",
			given: func(w *world) {
				w.sim(simrec.StateActive, active, none)
				w.notes.FailNext(errSNS)
			},
			command: func(w *world) events.SimCommand { return w.command(events.KindDisable, "Disabled") },
			want:    want{state: simrec.StateDisabled, cert: inactive}},
		{name: "a create is no command of the deactivator's",
			given:   func(w *world) { w.sim(simrec.StateActive, active, none) },
			command: func(*world) events.SimCommand { return events.SimCommand{Kind: events.KindCreate, ICCID: sim} },
			want:    want{err: events.ErrInvalidCommand, state: simrec.StateActive, cert: active, unchanged: true}},

		// Claims.
		{name: "another command's claim that outlasts the wait: busy, nothing changed",
			given: func(w *world) {
				w.sim(simrec.StateActive, active, none)
				w.claim("reissue-1", time.Hour)
			},
			command: func(w *world) events.SimCommand { return w.command(events.KindDisable, "Disabled") },
			want:    want{err: simrec.ErrBusy, state: simrec.StateActive, cert: active, unchanged: true}},
		{name: "another command's claim that expires while waiting: its claimant died, the disable takes over",
			given: func(w *world) {
				w.sim(simrec.StateActive, active, none)
				w.claim("reissue-1", 3*time.Second)
			},
			command: func(w *world) events.SimCommand { return w.command(events.KindDisable, "Disabled") },
			want:    want{state: simrec.StateDisabled, cert: inactive, successes: disabled}},
		{name: "the command's own claim (its attempt crashed) is continued at once",
			given: func(w *world) {
				w.sim(simrec.StateActive, active, none)
				w.claim("disable-2", time.Hour)
			},
			command: func(w *world) events.SimCommand { return w.command(events.KindDisable, "Disabled") },
			want:    want{state: simrec.StateDisabled, cert: inactive, successes: disabled}},
		{name: "a record that changed under the command is read again",
			given: func(w *world) {
				w.sim(simrec.StateActive, active, none)
				w.store.FailNext(simrectest.OpUpdate, simrec.ErrConflict)
			},
			command: func(w *world) events.SimCommand { return w.command(events.KindDisable, "Disabled") },
			want:    want{state: simrec.StateDisabled, cert: inactive, successes: disabled}},
		{name: "a record that keeps changing fails the attempt",
			given: func(w *world) {
				w.sim(simrec.StateActive, active, none)
				w.store.FailNext(simrectest.OpUpdate, simrec.ErrConflict, simrec.ErrConflict, simrec.ErrConflict, simrec.ErrConflict)
			},
			command: func(w *world) events.SimCommand { return w.command(events.KindDisable, "Disabled") },
			want:    want{err: simrec.ErrConflict, state: simrec.StateActive, cert: active, unchanged: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			tc.given(w)
			before, _ := w.store.Memory.Get(context.Background(), sim)
			cmd := tc.command(w)
			calls := map[string]int{}
			for op := range tc.want.calls {
				calls[op] = w.iot.Calls(op)
			}
			start := w.clock.Now()
			err := w.d.Handle(context.Background(), cmd)
			w.check(before, calls, err, tc.want)
			if waited := w.clock.Now().Sub(start); waited > timing.Wait {
				t.Errorf("waited %v for a claim, more than %v", waited, timing.Wait)
			}
		})
	}
}

// Every call the deactivator makes fails once — before or after it took
// effect — and the redelivered command finishes: the certificates grant
// nothing, the record says so, the claim is gone.
func TestEveryFailedCallIsFinishedByTheRedelivery(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	type failure struct {
		name   string
		inject func(w *world)
		step   string
	}
	iot := func(op string, n int, after bool) func(w *world) {
		return func(w *world) {
			var err error = boom
			if after {
				err = iotfake.AfterEffect{Err: boom}
			}
			w.iot.FailNext(op, append(make([]error, n-1), err)...)
		}
	}
	store := func(op string, n int, after bool) func(w *world) {
		return func(w *world) {
			var err error = boom
			if after {
				err = simrectest.AfterWrite{Err: boom}
			}
			w.store.FailNext(op, append(make([]error, n-1), err)...)
		}
	}
	common := []failure{
		{"read the record", store(simrectest.OpGet, 1, false), simrec.StepLoad},
		{"claim, refused", store(simrectest.OpUpdate, 1, false), simrec.StepClaim},
		{"claim, answer lost", store(simrectest.OpUpdate, 1, true), simrec.StepClaim},
		{"record inactive, refused", store(simrectest.OpUpdate, 2, false), app.StepRecord},
		{"record inactive, answer lost", store(simrectest.OpUpdate, 2, true), app.StepRecord},
	}
	scenarios := []struct {
		kind      events.Kind
		failures  []failure
		state     simrec.State
		status    types.CertificateStatus
		successes []string
	}{
		{events.KindDisable, append(slices.Clone(common),
			failure{"current certificate INACTIVE, refused", iot("UpdateCertificate", 1, false), app.StepDeactivate},
			failure{"current certificate INACTIVE, answer lost", iot("UpdateCertificate", 1, true), app.StepDeactivate},
			failure{"certificate being issued INACTIVE, refused", iot("UpdateCertificate", 2, false), app.StepDeactivate},
			failure{"certificate being issued INACTIVE, answer lost", iot("UpdateCertificate", 2, true), app.StepDeactivate},
		), simrec.StateDisabled, types.CertificateStatusInactive, disabled},
		{events.KindRevoke, append(slices.Clone(common),
			failure{"current certificate REVOKED, refused", iot("UpdateCertificate", 1, false), app.StepRevoke},
			failure{"current certificate REVOKED, answer lost", iot("UpdateCertificate", 1, true), app.StepRevoke},
			failure{"certificate being issued REVOKED, refused", iot("UpdateCertificate", 2, false), app.StepRevoke},
			failure{"certificate being issued REVOKED, answer lost", iot("UpdateCertificate", 2, true), app.StepRevoke},
			failure{"ARN of the certificate being issued", iot("DescribeCertificate", 1, false), app.StepRevoke},
		), simrec.StateRevoked, types.CertificateStatusRevoked, revoked},
	}
	for _, sc := range scenarios {
		for _, f := range sc.failures {
			t.Run(string(sc.kind)+": "+f.name, func(t *testing.T) {
				t.Parallel()
				w := newWorld(t)
				w.sim(simrec.StateActive, types.CertificateStatusActive, registered)
				cmd := w.command(sc.kind, "Disabled")
				f.inject(w)
				err := w.d.Handle(context.Background(), cmd)
				var se *steps.Error
				if !errors.Is(err, boom) || !errors.As(err, &se) || se.Step() != f.step {
					t.Fatalf("err = %v, want boom at step %q", err, f.step)
				}
				if rec := w.record(); !rec.Active && (w.status(w.cert) == types.CertificateStatusActive || w.status(w.next) == types.CertificateStatusActive) {
					t.Fatal("the record says inactive while a certificate it names is ACTIVE")
				}
				if err := w.d.Handle(context.Background(), cmd); err != nil {
					t.Fatalf("redelivery: %v", err)
				}
				rec := w.record()
				if rec.CurrentState() != sc.state || rec.Active || rec.ClaimedBy != "" || w.status(w.cert) != sc.status || w.status(w.next) != sc.status {
					t.Fatalf("record %s claimed by %q, certificates %s and %s", rec.CurrentState(), rec.ClaimedBy, w.status(w.cert), w.status(w.next))
				}
				// The notification goes with the attempt that wrote the record: an
				// answer of that write lost for good loses it (the record is right).
				want := sc.successes
				if f.step == app.StepRecord && strings.HasSuffix(f.name, "answer lost") {
					want = nil
				}
				if got, _ := w.notes.Sent(); !slices.Equal(got, want) {
					t.Fatalf("success notifications %q, want %q", got, want)
				}
			})
		}
	}
}

func TestNewRefusesMissingDependencies(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	full := app.Deps{Store: w.store, Certificates: adapters.Certificates{IoTCore: w.iot}, Notifier: w.notes, Logger: slog.New(slog.DiscardHandler)}
	tests := []struct {
		name   string
		change func(d *app.Deps)
		timing simrec.ClaimTiming
	}{
		{"no store", func(d *app.Deps) { d.Store = nil }, timing},
		{"no certificates", func(d *app.Deps) { d.Certificates = nil }, timing},
		{"no notifier", func(d *app.Deps) { d.Notifier = nil }, timing},
		{"no logger", func(d *app.Deps) { d.Logger = nil }, timing},
		{"no claim TTL", func(*app.Deps) {}, simrec.ClaimTiming{Poll: time.Second}},
	}
	for _, tc := range tests {
		d := full
		tc.change(&d)
		if _, err := app.New(d, tc.timing); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}
