package app_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/services/sim-poller/internal/domain"
)

type fakeSummaries struct {
	mu  sync.Mutex
	got []events.SyncSummary
}

func (f *fakeSummaries) Summary(_ context.Context, s events.SyncSummary) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, s)
	return nil
}

// TestSummariesCountRunsAndRealTimeChanges: the summary of a run reports
// its commands and those the Data Streamer caused since the last summary;
// a run that changed nothing (and nothing happened in real time) is silent.
func TestSummariesCountRunsAndRealTimeChanges(t *testing.T) {
	t.Parallel()
	w := newTargetWorld(t)
	sums := &fakeSummaries{}
	w.syncer.Summaries = sums
	ctx := context.Background()

	if _, err := w.syncer.Sync(ctx, false); err != nil { // empty account, empty store
		t.Fatal(err)
	}
	if len(sums.got) != 0 {
		t.Fatalf("a run that changed nothing sent %+v", sums.got)
	}
	w.sims.set(enabledSIM(7))
	if _, err := w.syncer.SyncSIMs(ctx, []string{iccid(7)}, w.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if len(sums.got) != 0 {
		t.Fatal("a hint sent a summary of its own")
	}
	w.inv.sims = []domain.RemoteSIM{enabledSIM(8), enabledSIM(9)}
	if _, err := w.syncer.Sync(ctx, false); err != nil {
		t.Fatal(err)
	}
	if len(sums.got) != 1 {
		t.Fatalf("summaries %+v, want 1", sums.got)
	}
	s := sums.got[0]
	if s.Published["create"] != 2 || s.RealtimePublished["create"] != 1 || s.Listed != 2 ||
		!strings.Contains(s.Message, "2 create") || !strings.Contains(s.Message, "Data Streamer") {
		t.Fatalf("summary %+v", s)
	}
}
