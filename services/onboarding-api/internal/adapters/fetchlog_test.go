package adapters_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/services/onboarding-api/internal/adapters"
)

// fetchWrites records RecordFetch calls; failFor fails one SIM's writes.
type fetchWrites struct {
	mu      sync.Mutex
	writes  map[string]int
	failFor string
}

func (f *fetchWrites) RecordFetch(_ context.Context, iccid string, _ time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes[iccid]++
	if iccid == f.failFor {
		return errors.New("throttled")
	}
	return nil
}

// TestFetchLogWritesOncePerSIMAndInterval: a modem fetching in chunks costs
// one write per interval; what is queued at shutdown is still written, and a
// failed write is logged, not retried.
func TestFetchLogWritesOncePerSIMAndInterval(t *testing.T) {
	t.Parallel()
	store := &fetchWrites{writes: map[string]int{}, failFor: "c"}
	logs := &testkit.LogBuffer{}
	l := adapters.NewFetchLog(store, time.Minute, slog.New(slog.NewJSONHandler(logs, nil)))
	for _, iccid := range []string{"a", "a", "b", "a", "c"} {
		l.Note(iccid)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Run drains what is queued, then returns
	l.Run(ctx)
	store.mu.Lock()
	defer store.mu.Unlock()
	if store.writes["a"] != 1 || store.writes["b"] != 1 || store.writes["c"] != 1 {
		t.Fatalf("writes %v, want one per SIM", store.writes)
	}
	if !strings.Contains(logs.String(), "credentials fetch not recorded") {
		t.Errorf("failed write not logged: %s", logs.String())
	}
}
