package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
)

func TestSyncOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		world   func() *world
		force   bool
		wantErr string
		want    map[events.Kind]int
		// notes are substrings of the one failure notification; nil means none is sent.
		notes []string
		check func(t *testing.T, sum app.Summary)
	}{
		{name: "new SIMs are created and counted", world: func() *world { return newWorld(stored(0, 150), listed(0, 200)) },
			want: map[events.Kind]int{events.KindCreate: 50},
			check: func(t *testing.T, sum app.Summary) {
				if sum.Listed != 200 || sum.Unchanged != 150 || sum.Pages != 2 || !sum.Complete || sum.StoreActive != 150 {
					t.Errorf("summary %+v", sum)
				}
			}},
		{name: "no changes publish nothing and notify nobody", world: func() *world { return newWorld(stored(0, 300), listed(0, 300)) },
			want: map[events.Kind]int{}},
		{name: "SIMs without IP are counted, not reported", world: func() *world {
			sims := listed(0, 3)
			sims[1].IP = ""
			return newWorld(nil, sims)
		}, want: map[events.Kind]int{events.KindCreate: 2},
			check: func(t *testing.T, sum app.Summary) {
				if sum.Problems["no_ip"] != 1 {
					t.Errorf("problems %v", sum.Problems)
				}
			}},
		{name: "invalid data, a conflict and a guard refusal make one notification", world: func() *world {
			sims := listed(0, 40)
			sims[0].IP, sims[1].IP, sims[2].ICCID = "ten", ip(3), "x"
			return newWorld(stored(0, 100), sims)
		}, wantErr: "mass-disable guard refused", want: map[events.Kind]int{},
			notes: []string{"mass-disable guard", "invalid_ip=1", "ip_conflict=2", "invalid_iccid=1 (e.g. x)"}},
		{name: "forced run passes the guard", force: true, world: func() *world { return newWorld(stored(0, 100), listed(0, 40)) },
			want: map[events.Kind]int{events.KindDisable: 60}},
		{name: "failed listing creates what it saw and disables nothing", world: func() *world {
			w := newWorld(stored(50, 150), listed(0, 200))
			w.inv.err = errListingIncomplete
			return w
		}, wantErr: "no SIM disabled", want: map[events.Kind]int{events.KindCreate: 50}, notes: []string{"SIM listing incomplete"},
			check: func(t *testing.T, sum app.Summary) {
				if sum.Complete || sum.Absent != 50 || sum.Unconfirmed != 50 {
					t.Errorf("complete=%v absent=%d unconfirmed=%d", sum.Complete, sum.Absent, sum.Unconfirmed)
				}
			}},
		{name: "unreadable store publishes nothing", world: func() *world {
			w := newWorld(nil, listed(0, 10))
			w.store.err = errors.New("throttled")
			return w
		}, wantErr: "read SIM store", want: map[events.Kind]int{}, notes: []string{"throttled"}},
		{name: "a failed send does not hold back the others", world: func() *world {
			w := newWorld(nil, listed(0, 20))
			w.pub.failOn = map[string]bool{iccid(3): true}
			return w
		}, wantErr: "publish 1 of 20 commands failed", want: map[events.Kind]int{events.KindCreate: 19}, notes: []string{"sqs unavailable"}},
		{name: "lease lost mid-run stops the run before any disable", world: func() *world {
			w := newWorld(stored(0, 300), listed(0, 290))
			w.inv.onPage = func(page int) {
				if page == 3 {
					w.lease.loseIt()
				}
			}
			return w
		}, wantErr: "lease lost", want: map[events.Kind]int{}, notes: []string{"lease lost"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := tc.world()
			sum, err := w.syncer.Sync(context.Background(), tc.force)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			for _, kind := range []events.Kind{events.KindCreate, events.KindUpdate, events.KindDisable} {
				if got := w.pub.count(kind); got != tc.want[kind] || sum.Published[string(kind)] != tc.want[kind] {
					t.Errorf("%s: sent %d, summary %d, want %d", kind, got, sum.Published[string(kind)], tc.want[kind])
				}
			}
			assertNotified(t, w.notifier, tc.notes)
			if tc.check != nil {
				tc.check(t, sum)
			}
		})
	}
}

func assertNotified(t *testing.T, n *fakeNotifier, notes []string) {
	t.Helper()
	if notes == nil {
		if len(n.msgs) != 0 {
			t.Errorf("want no notification, got %q", n.msgs)
		}
		return
	}
	if len(n.msgs) != 1 {
		t.Fatalf("want exactly one notification for the run, got %d: %q", len(n.msgs), n.msgs)
	}
	for _, s := range notes {
		if !strings.Contains(n.msgs[0], s) {
			t.Errorf("notification %q lacks %q", n.msgs[0], s)
		}
	}
}

func TestShutdownMidRunDisablesNothingAndNotifiesNobody(t *testing.T) {
	t.Parallel()
	w := newWorld(stored(0, 300), listed(0, 290))
	ctx, cancel := context.WithCancel(context.Background())
	w.inv.onPage = func(page int) {
		if page == 2 {
			cancel()
		}
	}
	sum, err := w.syncer.Sync(ctx, false)
	if err == nil || sum.Complete {
		t.Fatalf("interrupted run: err %v, complete %v", err, sum.Complete)
	}
	if w.pub.count(events.KindDisable) != 0 || len(w.notifier.msgs) != 0 {
		t.Fatalf("interrupted run published %d disables and notified %q", w.pub.count(events.KindDisable), w.notifier.msgs)
	}
}

// TestAHungRunEndsAtItsTimeout: SYNC_TIMEOUT bounds a run, so a listing
// that never answers cannot hold the lease and the schedule forever.
func TestAHungRunEndsAtItsTimeout(t *testing.T) {
	t.Parallel()
	w := newWorld(stored(0, 10), nil)
	w.inv.hang = true
	w.syncer.Timeout = time.Nanosecond
	sum, err := w.syncer.Sync(context.Background(), false)
	if !errors.Is(err, app.ErrInterrupted) || !errors.Is(err, context.DeadlineExceeded) || !sum.Interrupted {
		t.Fatalf("err %v, interrupted %v: want ErrInterrupted by the deadline", err, sum.Interrupted)
	}
	if len(w.notifier.msgs) != 0 || w.pub.count(events.KindDisable) != 0 {
		t.Fatalf("a timed-out run notified %q and published %d disables", w.notifier.msgs, w.pub.count(events.KindDisable))
	}
}

func TestLeaseHeldElsewhereSkipsTheRun(t *testing.T) {
	t.Parallel()
	w := newWorld(stored(0, 10), nil)
	w.lease.held = true
	_, err := w.syncer.Sync(context.Background(), false)
	if !errors.Is(err, app.ErrRunInProgress) {
		t.Fatalf("err = %v, want ErrRunInProgress", err)
	}
	if w.inv.calls != 0 || len(w.notifier.msgs) != 0 || len(w.pub.sent) != 0 {
		t.Fatalf("a skipped run listed %d times, notified %q, published %d", w.inv.calls, w.notifier.msgs, len(w.pub.sent))
	}
}

func TestRunsNeverOverlapInProcess(t *testing.T) {
	t.Parallel()
	w := newWorld(nil, listed(0, 300))
	started, release := make(chan struct{}), make(chan struct{})
	w.inv.onPage = func(page int) {
		if page == 1 {
			close(started)
			<-release
		}
	}
	done := make(chan error, 1)
	go func() { _, err := w.syncer.Sync(context.Background(), false); done <- err }()
	<-started
	if _, err := w.syncer.Sync(context.Background(), false); !errors.Is(err, app.ErrRunInProgress) {
		t.Errorf("second run: err = %v, want ErrRunInProgress", err)
	}
	close(release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("first run never finished")
	}
	if w.inv.calls != 1 {
		t.Fatalf("listed %d times, want once", w.inv.calls)
	}
}
