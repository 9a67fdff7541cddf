package adapters_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/simbridge/simbridge/services/sim-poller/internal/adapters"
	"github.com/simbridge/simbridge/services/sim-poller/internal/domain"
)

// countingSIMs answers every SIM as Enabled and counts the questions.
type countingSIMs struct {
	calls atomic.Int32
	delay time.Duration
	fail  atomic.Bool
}

func (c *countingSIMs) GetSIM(_ context.Context, iccid string) (domain.RemoteSIM, error) {
	c.calls.Add(1)
	time.Sleep(c.delay)
	if c.fail.Load() {
		return domain.RemoteSIM{}, errors.New("503")
	}
	return domain.RemoteSIM{ICCID: iccid, Status: domain.StatusEnabled}, nil
}

func shared(sims adapters.SIMGetter, window time.Duration) *adapters.SharedLookups {
	return &adapters.SharedLookups{SIMs: sims, Window: window, Remember: time.Minute, Share: adapters.NewRateShare(1000, 0.5)}
}

// TestOneSIMNamedFiftyTimesIsLookedUpTwice: the first hint is asked about
// at once, the 49 arriving after its answer share the next one, asked a
// window after the first.
func TestOneSIMNamedFiftyTimesIsLookedUpTwice(t *testing.T) {
	t.Parallel()
	sims := &countingSIMs{delay: 50 * time.Millisecond}
	l := shared(sims, 2*time.Second)
	start := time.Now()
	if _, err := l.Lookup(context.Background(), "8988280666000000001", start); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("a lone hint took %v: it must not wait for the 2 s window", took)
	}
	var wg sync.WaitGroup
	for i := range 49 {
		wg.Go(func() {
			time.Sleep(time.Duration(i) * 4 * time.Millisecond) // spread over 200 ms
			if _, err := l.Lookup(context.Background(), "8988280666000000001", time.Now()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := sims.calls.Load(); n != 2 {
		t.Fatalf("%d questions for 50 hints within the window, want 2", n)
	}
	// A hint older than the last answer is served from it; a newer one asks again.
	if _, err := l.Lookup(context.Background(), "8988280666000000001", start); err != nil || sims.calls.Load() != 2 {
		t.Fatalf("older hint asked again (%d questions, %v)", sims.calls.Load(), err)
	}
	if _, err := l.Lookup(context.Background(), "8988280666000000001", time.Now()); err != nil || sims.calls.Load() != 3 {
		t.Fatalf("newer hint: %d questions (%v), want a third one", sims.calls.Load(), err)
	}
}

func TestAFailedAnswerIsNotReused(t *testing.T) {
	t.Parallel()
	sims := &countingSIMs{}
	sims.fail.Store(true)
	l := shared(sims, 0)
	before := time.Now()
	if _, err := l.Lookup(context.Background(), "8988280666000000002", before); err == nil {
		t.Fatal("want the failure")
	}
	sims.fail.Store(false)
	if _, err := l.Lookup(context.Background(), "8988280666000000002", before); err != nil || sims.calls.Load() != 2 {
		t.Fatalf("%d questions (%v): a failure must be asked again", sims.calls.Load(), err)
	}
}

// TestHintsYieldToAListing: while a listing runs, hint lookups get at most
// their share of the rate; the listing keeps the rest.
func TestHintsYieldToAListing(t *testing.T) {
	t.Parallel()
	const rate, n = 20.0, 6
	measure := func(listing bool) time.Duration {
		share := adapters.NewRateShare(rate, 0.5)
		run := func() time.Duration {
			start := time.Now()
			for range n {
				if err := share.Wait(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			return time.Since(start)
		}
		if !listing {
			return run()
		}
		var d time.Duration
		share.During(func() { d = run() })
		return d
	}
	// n-1 waits after the first token: at 10/s at least 0.5 s, at 20/s 0.25 s.
	if d := measure(true); d < 450*time.Millisecond {
		t.Errorf("%d hint lookups during a listing took %v: more than half the rate", n, d)
	}
	if d := measure(false); d > 2*time.Second {
		t.Errorf("%d hint lookups without a listing took %v", n, d)
	}
}

type countingLister struct{ calls atomic.Int32 }

func (c *countingLister) ListSIMs(_ context.Context, fn func([]domain.RemoteSIM) error) (int, error) {
	c.calls.Add(1)
	time.Sleep(50 * time.Millisecond)
	return 1, fn([]domain.RemoteSIM{{ICCID: "8988280666000000001", Status: domain.StatusEnabled}})
}

// TestBatchesArrivingTogetherShareOneListing: requests of one burst share
// a listing; one whose hint is newer than the listing's start lists again.
func TestBatchesArrivingTogetherShareOneListing(t *testing.T) {
	t.Parallel()
	inv := &countingLister{}
	l := &adapters.SharedListing{Inventory: inv, Window: 100 * time.Millisecond}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			sims, err := l.Snapshot(context.Background(), time.Now())
			if err != nil || len(sims) != 1 {
				t.Error(sims, err)
			}
		})
	}
	wg.Wait()
	if n := inv.calls.Load(); n != 1 {
		t.Fatalf("%d listings for one burst, want 1", n)
	}
	if _, err := l.Snapshot(context.Background(), time.Now()); err != nil || inv.calls.Load() != 2 {
		t.Fatalf("a newer hint: %d listings (%v), want a second", inv.calls.Load(), err)
	}
}
