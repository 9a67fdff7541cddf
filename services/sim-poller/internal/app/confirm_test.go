package app_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
	"github.com/simbridge/simbridge/services/sim-poller/internal/domain"
)

// answers makes GetSIM answer by SIM number: a status, or "404", or "500"
// (an error after the client's retries); SIMs not in the table are gone.
func answers(table map[int]string) func(context.Context, string) (domain.RemoteSIM, error) {
	return func(_ context.Context, id string) (domain.RemoteSIM, error) {
		for n, a := range table {
			if iccid(n) != id {
				continue
			}
			switch a {
			case "500":
				return domain.RemoteSIM{}, fmt.Errorf("get SIM %s: status 500: oops", id)
			case "404":
				return domain.RemoteSIM{}, fmt.Errorf("get SIM %s: %w", id, app.ErrSIMNotFound)
			}
			return domain.RemoteSIM{ICCID: id, IP: ip(n), Status: a}, nil
		}
		return domain.RemoteSIM{}, fmt.Errorf("get SIM %s: %w", id, app.ErrSIMNotFound)
	}
}

// TestAbsentSIMsAreDisabledOnlyOnProof lists SIMs 0-19 while the store holds
// 0-23 active: SIMs 20-23 are absent, and what 1NCE's single-SIM endpoint
// says about each decides its fate.
func TestAbsentSIMsAreDisabledOnlyOnProof(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		answers     map[int]string
		wantErr     error
		wantDisable []string
		notes       []string
		check       func(t *testing.T, sum app.Summary)
	}{
		{name: "gone (404) and Disabled are disabled", answers: map[int]string{20: "404", 21: domain.StatusDisabled, 22: "404", 23: domain.StatusDisabled},
			wantDisable: []string{iccid(20), iccid(21), iccid(22), iccid(23)}},
		{name: "still Enabled is kept and counted as listing drift", answers: map[int]string{20: domain.StatusEnabled, 21: "404", 22: domain.StatusEnabled, 23: "404"},
			wantDisable: []string{iccid(21), iccid(23)},
			check: func(t *testing.T, sum app.Summary) {
				if sum.Absent != 4 || sum.Drift != 2 || sum.Unconfirmed != 0 || strings.Join(sum.DriftExamples, ",") != iccid(20)+","+iccid(22) {
					t.Errorf("absent=%d drift=%d unconfirmed=%d examples=%v", sum.Absent, sum.Drift, sum.Unconfirmed, sum.DriftExamples)
				}
			}},
		{name: "a failed question keeps that SIM and fails the run", answers: map[int]string{20: "500", 21: "404", 22: domain.StatusEnabled, 23: "500"},
			wantErr: app.ErrUnconfirmed, wantDisable: []string{iccid(21)},
			notes: []string{"could not say whether 2 of 4 absent SIMs are gone", "status 500"},
			check: func(t *testing.T, sum app.Summary) {
				if sum.Unconfirmed != 2 || sum.Drift != 1 {
					t.Errorf("unconfirmed=%d drift=%d", sum.Unconfirmed, sum.Drift)
				}
			}},
		{name: "a status 1NCE does not document is no proof", answers: map[int]string{20: "Suspended", 21: "404", 22: "404", 23: "404"},
			wantErr: app.ErrUnconfirmed, wantDisable: []string{iccid(21), iccid(22), iccid(23)}, notes: []string{`status "Suspended"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(stored(0, 24), listed(0, 20))
			w.inv.get = answers(tc.answers)
			sum, err := w.syncer.Sync(context.Background(), false)
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			var got []string
			for _, c := range w.pub.sent {
				if c.Kind == events.KindDisable {
					got = append(got, c.ICCID)
				}
			}
			if fmt.Sprint(sorted(got)) != fmt.Sprint(tc.wantDisable) || sum.Published["disable"] != len(tc.wantDisable) {
				t.Errorf("disabled %v (summary %d), want %v", got, sum.Published["disable"], tc.wantDisable)
			}
			if w.inv.questions() != 4 {
				t.Errorf("asked about %d SIMs, want the 4 absent ones", w.inv.questions())
			}
			assertNotified(t, w.notifier, tc.notes)
			if tc.check != nil {
				tc.check(t, sum)
			}
		})
	}
}

func TestListedSIMsNeedNoConfirmation(t *testing.T) {
	t.Parallel()
	sims := listed(0, 10)
	sims[3].Status = domain.StatusDisabled
	w := newWorld(stored(0, 10), sims)
	if _, err := w.syncer.Sync(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if w.inv.questions() != 0 || w.pub.count(events.KindDisable) != 1 {
		t.Fatalf("asked about %d SIMs, disabled %d; want the listed Disabled SIM disabled without a question",
			w.inv.questions(), w.pub.count(events.KindDisable))
	}
}

func TestIncompleteListingAsksAboutNoSIM(t *testing.T) {
	t.Parallel()
	w := newWorld(stored(0, 300), listed(0, 200))
	w.inv.err = fmt.Errorf("%w: saw 100 distinct ICCIDs, X-Total-Count said 200", errListingIncomplete)
	_, err := w.syncer.Sync(context.Background(), false)
	if !errors.Is(err, errListingIncomplete) || w.inv.questions() != 0 || w.pub.count(events.KindDisable) != 0 {
		t.Fatalf("err %v, %d questions, %d disables; want ErrIncomplete, none, none", err, w.inv.questions(), w.pub.count(events.KindDisable))
	}
	assertNotified(t, w.notifier, []string{"saw 100 distinct ICCIDs, X-Total-Count said 200", "no SIM disabled"})
}

func TestConfirmationsStopOnceTheGuardWillRefuse(t *testing.T) {
	t.Parallel()
	// 100 active, 40 listed: 60 absent; the guard allows 10 disables.
	w := newWorld(stored(0, 100), listed(0, 40))
	sum, err := w.syncer.Sync(context.Background(), false)
	if !errors.Is(err, app.ErrGuardRefused) || !sum.GuardRefused || w.pub.count(events.KindDisable) != 0 {
		t.Fatalf("err %v, refused %v, %d disables; want the guard to refuse", err, sum.GuardRefused, w.pub.count(events.KindDisable))
	}
	// 11 confirmed disables prove the refusal; the bounded concurrency may add a few.
	if n := w.inv.questions(); n < 11 || n > 11+4 {
		t.Fatalf("asked about %d of 60 absent SIMs, want 11 to 15", n)
	}
	assertNotified(t, w.notifier, []string{"more than the 10 one run may disable", "60 active SIMs absent", "force=true"})
}

func TestEmptyListingAsksNothingAndFails(t *testing.T) {
	t.Parallel()
	w := newWorld(stored(0, 50), nil)
	sum, err := w.syncer.Sync(context.Background(), false)
	if !errors.Is(err, app.ErrGuardRefused) || w.inv.questions() != 0 || len(w.pub.sent) != 0 {
		t.Fatalf("err %v, %d questions, %d published; want a guard refusal without questions", err, w.inv.questions(), len(w.pub.sent))
	}
	if !sum.GuardRefused || sum.Absent != 50 {
		t.Fatalf("summary %+v", sum)
	}
	assertNotified(t, w.notifier, []string{"1NCE listed no SIM while 50 active SIMs are absent", "force=true"})
}

func TestForcedRunConfirmsEveryAbsentSIM(t *testing.T) {
	t.Parallel()
	w := newWorld(stored(0, 100), listed(0, 40))
	w.inv.get = answers(map[int]string{50: domain.StatusEnabled})
	if _, err := w.syncer.Sync(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if w.inv.questions() != 60 || w.pub.count(events.KindDisable) != 59 {
		t.Fatalf("asked %d, disabled %d; want 60 asked, 59 disabled (one still Enabled)", w.inv.questions(), w.pub.count(events.KindDisable))
	}
}

// TestConfirmationsAreBoundedInConcurrency: each question is held until 4
// are in flight (or every one has been asked), so the test sees the most
// the run lets out at once without timing anything.
func TestConfirmationsAreBoundedInConcurrency(t *testing.T) {
	t.Parallel()
	const limit, absent = 4, 20
	w := newWorld(stored(0, 60), listed(0, 40))
	var mu sync.Mutex
	full := sync.NewCond(&mu)
	inFlight, asked := 0, 0
	w.inv.get = func(_ context.Context, id string) (domain.RemoteSIM, error) {
		mu.Lock()
		inFlight++
		asked++
		full.Broadcast()
		for inFlight < limit && asked < absent {
			full.Wait()
		}
		mu.Unlock()
		defer func() {
			mu.Lock()
			inFlight--
			mu.Unlock()
		}()
		return domain.RemoteSIM{ICCID: id, Status: domain.StatusEnabled}, nil
	}
	if _, err := w.syncer.Sync(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	w.inv.mu.Lock()
	defer w.inv.mu.Unlock()
	if len(w.inv.asked) != absent || w.inv.maxAtOnce != limit {
		t.Fatalf("asked %d, at most %d at once; want %d asked, %d at once", len(w.inv.asked), w.inv.maxAtOnce, absent, limit)
	}
}

func TestShutdownDuringConfirmationsDisablesNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(stored(0, 30), listed(0, 20))
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("shutting down")
	w.inv.get = func(ctx context.Context, id string) (domain.RemoteSIM, error) {
		cancel(stop)
		<-ctx.Done()
		return domain.RemoteSIM{}, context.Cause(ctx)
	}
	sum, err := w.syncer.Sync(ctx, true)
	if !errors.Is(err, app.ErrInterrupted) || !errors.Is(err, stop) || !sum.Interrupted {
		t.Fatalf("err %v (interrupted %v), want ErrInterrupted caused by the shutdown", err, sum.Interrupted)
	}
	if len(w.pub.sent) != 0 || len(w.notifier.msgs) != 0 {
		t.Fatalf("interrupted run published %d and notified %q", len(w.pub.sent), w.notifier.msgs)
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func TestShutdownBetweenConfirmationsIsNoSuccess(t *testing.T) {
	t.Parallel()
	w := newWorld(stored(0, 30), listed(0, 20))
	ctx, cancel := context.WithCancel(context.Background())
	w.inv.get = func(_ context.Context, id string) (domain.RemoteSIM, error) {
		cancel() // every question answers, but the run must not go on asking
		return domain.RemoteSIM{ICCID: id, Status: domain.StatusEnabled}, nil
	}
	sum, err := w.syncer.Sync(ctx, true)
	if !errors.Is(err, app.ErrInterrupted) || !strings.Contains(err.Error(), "absent SIMs") || w.inv.questions() >= 10 {
		t.Fatalf("err %v after %d of 10 questions, want an interrupted run that stopped asking", err, w.inv.questions())
	}
	if sum.Unconfirmed == 0 {
		t.Fatalf("summary %+v: want the SIMs not asked about counted as unconfirmed", sum)
	}
}
