package simrec_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simrec/simrectest"
	"github.com/simbridge/simbridge/libs/steps"
)

const sim = "8988280666000000001"

var timing = simrec.ClaimTiming{TTL: time.Minute, Wait: 10 * time.Second, Poll: time.Second}

func newClaims(t *testing.T) (*simrec.Claims, *simrectest.Store, *simrectest.Clock) {
	t.Helper()
	store, clock := simrectest.NewStore(), simrectest.NewClock()
	c, err := simrec.NewClaims(store, timing, clock)
	if err != nil {
		t.Fatal(err)
	}
	return c, store, clock
}

// stored creates the SIM's record, claimed by holder until until when holder is set.
func stored(t *testing.T, store *simrectest.Store, holder string, until time.Time) simrec.Record {
	t.Helper()
	rec, err := store.Memory.Create(context.Background(), simrec.Record{ICCID: sim, LastCommand: holder, ClaimedBy: holder, ClaimedUntil: until,
		LastFailure: &simrec.Failure{Step: "x", Command: "cmd-1"}})
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func stepOf(err error) string {
	var se *steps.Error
	if errors.As(err, &se) {
		return se.Step()
	}
	return ""
}

// A command reads the record and waits while another command's claim holds
// it: until the claim ends, expires, or the wait is over (busy, transient:
// the queue brings the command back).
func TestAwait(t *testing.T) {
	t.Parallel()
	boom := errors.New("dynamodb: 500")
	tests := []struct {
		name     string
		holder   string
		until    time.Duration // from now
		release  bool          // the holder releases on the first look-again
		fail     error
		cancel   bool
		wantErr  error
		wantStep string
		waited   time.Duration
	}{
		{name: "unclaimed", waited: 0},
		{name: "claimed by the same command (its redelivery)", holder: "cmd-1", until: time.Hour},
		{name: "claim expired: its claimant died", holder: "other", until: -time.Second},
		{name: "claim expires while waiting", holder: "other", until: 3 * time.Second, waited: 3 * time.Second},
		{name: "claim released while waiting", holder: "other", until: time.Hour, release: true, waited: time.Second},
		{name: "claim outlasts the wait: busy", holder: "other", until: time.Hour, wantErr: simrec.ErrBusy, wantStep: simrec.StepClaim, waited: 10 * time.Second},
		{name: "context ends while waiting", holder: "other", until: time.Hour, cancel: true, wantErr: context.Canceled, wantStep: simrec.StepClaim},
		{name: "read fails", fail: boom, wantErr: boom, wantStep: simrec.StepLoad},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, store, clock := newClaims(t)
			start := clock.Now()
			stored(t, store, tc.holder, start.Add(tc.until))
			if tc.release {
				clock.OnSleep = func() {
					rec, _ := store.Memory.Get(context.Background(), sim)
					rec.Release()
					if _, err := store.Memory.Update(context.Background(), rec); err != nil {
						t.Error(err)
					}
				}
			}
			store.FailNext(simrectest.OpGet, tc.fail)
			ctx, cancel := context.WithCancel(context.Background())
			if tc.cancel {
				cancel()
			}
			defer cancel()
			_, err := c.Await(ctx, sim, "cmd-1")
			if !errors.Is(err, tc.wantErr) || stepOf(err) != tc.wantStep {
				t.Fatalf("err = %v (step %q), want %v (step %q)", err, stepOf(err), tc.wantErr, tc.wantStep)
			}
			if got := clock.Now().Sub(start); got != tc.waited {
				t.Fatalf("waited %v, want %v", got, tc.waited)
			}
		})
	}
}

func TestAwaitLeavesAMissingRecordToTheCaller(t *testing.T) {
	t.Parallel()
	c, _, _ := newClaims(t)
	if _, err := c.Await(context.Background(), sim, "cmd-1"); !errors.Is(err, simrec.ErrNotFound) || stepOf(err) != "" {
		t.Fatalf("err = %v, want ErrNotFound without a step", err)
	}
}

func TestTakeAndRelease(t *testing.T) {
	t.Parallel()
	c, store, clock := newClaims(t)
	rec := stored(t, store, "", time.Time{})
	claimed, err := c.Take(context.Background(), rec, "cmd-2")
	if err != nil {
		t.Fatal(err)
	}
	if claimed.LastCommand != "cmd-2" || claimed.ClaimedBy != "cmd-2" || !claimed.ClaimedUntil.Equal(clock.Now().Add(timing.TTL)) || claimed.Version != rec.Version+1 {
		t.Fatalf("claimed %+v", claimed)
	}
	if !claimed.Claimed("cmd-3", clock.Now()) || claimed.Settled() {
		t.Fatal("a taken claim must keep others off and the record unsettled")
	}
	claimed.Release()
	if claimed.ClaimedBy != "" || !claimed.ClaimedUntil.IsZero() || claimed.LastFailure != nil || !claimed.Settled() {
		t.Fatalf("released %+v", claimed)
	}
	if claimed.LastCommand != "cmd-2" {
		t.Fatal("the command that last wrote the record must stay named")
	}
	// A write that finds the record changed since it was read fails as claim record.
	if _, err := c.Take(context.Background(), rec, "cmd-3"); !errors.Is(err, simrec.ErrConflict) || stepOf(err) != simrec.StepClaim {
		t.Fatalf("stale take: %v", err)
	}
}

// Forget clears only the failure an earlier attempt of the same command
// recorded.
func TestForget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		cmd       string
		wantClear bool
	}{
		{"the command's own failure", "cmd-1", true},
		{"another command's failure stays", "cmd-2", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, store, _ := newClaims(t)
			rec := stored(t, store, "", time.Time{})
			if err := c.Forget(context.Background(), rec, tc.cmd); err != nil {
				t.Fatal(err)
			}
			got, _ := store.Memory.Get(context.Background(), sim)
			if (got.LastFailure == nil) != tc.wantClear {
				t.Fatalf("last failure %+v", got.LastFailure)
			}
		})
	}
	c, store, _ := newClaims(t)
	if err := c.Forget(context.Background(), simrec.Record{ICCID: sim}, "cmd-1"); err != nil || store.Calls(simrectest.OpClearFailure) != 0 {
		t.Fatalf("a record without a failure: %v, %d writes", err, store.Calls(simrectest.OpClearFailure))
	}
}

// Do runs an attempt again while the record changed under it, a bounded
// number of times, within three quarters of the claim TTL.
func TestDo(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	tests := []struct {
		name      string
		results   []error
		wantErr   error
		wantCalls int
	}{
		{"success", []error{nil}, nil, 1},
		{"other errors are returned at once", []error{boom}, boom, 1},
		{"a conflict reads again", []error{simrec.ErrConflict, nil}, nil, 2},
		{"conflicts are bounded", []error{simrec.ErrConflict, simrec.ErrConflict, simrec.ErrConflict, simrec.ErrConflict, nil}, simrec.ErrConflict, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _, _ := newClaims(t)
			calls := 0
			err := c.Do(context.Background(), func(ctx context.Context) error {
				deadline, ok := ctx.Deadline()
				if !ok || time.Until(deadline) > timing.TTL*3/4 {
					t.Errorf("attempt deadline %v, want within %v", deadline, timing.TTL*3/4)
				}
				calls++
				return tc.results[calls-1]
			})
			if !errors.Is(err, tc.wantErr) || calls != tc.wantCalls {
				t.Fatalf("err = %v after %d calls, want %v after %d", err, calls, tc.wantErr, tc.wantCalls)
			}
		})
	}
}

func TestNewClaimsRefusesWhatCannotWork(t *testing.T) {
	t.Parallel()
	store := simrectest.NewStore()
	tests := []struct {
		name   string
		store  simrec.ClaimStore
		timing simrec.ClaimTiming
	}{
		{"no store", nil, timing},
		{"no TTL", store, simrec.ClaimTiming{Poll: time.Second}},
		{"no poll interval", store, simrec.ClaimTiming{TTL: time.Minute}},
		{"negative wait", store, simrec.ClaimTiming{TTL: time.Minute, Poll: time.Second, Wait: -time.Second}},
	}
	for _, tc := range tests {
		if _, err := simrec.NewClaims(tc.store, tc.timing, nil); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	if _, err := simrec.NewClaims(store, simrec.DefaultClaimTiming, nil); err != nil {
		t.Fatalf("default timing on the wall clock: %v", err)
	}
	if got := simrec.DefaultClaimTiming.WithTTL(time.Second); got.TTL != time.Second || got.Wait != simrec.DefaultClaimTiming.Wait {
		t.Fatalf("WithTTL = %+v", got)
	}
}

func TestSystemClockSleeps(t *testing.T) {
	t.Parallel()
	var c simrec.SystemClock
	start := c.Now()
	if err := c.Sleep(context.Background(), time.Millisecond); err != nil || time.Since(start) < time.Millisecond {
		t.Fatalf("slept %v: %v", time.Since(start), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled sleep returned %v", err)
	}
}
