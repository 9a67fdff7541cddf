package adapters_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/simbridge/simbridge/services/sim-poller/internal/adapters"
	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
)

type hangingSyncer struct{}

func (hangingSyncer) Sync(ctx context.Context, _ bool) (app.Summary, error) {
	<-ctx.Done()
	return app.Summary{}, ctx.Err()
}

func TestBoundedSyncerEndsAHungRun(t *testing.T) {
	t.Parallel()
	start := time.Now()
	_, err := adapters.BoundedSyncer{Next: hangingSyncer{}, Limit: 50 * time.Millisecond}.Sync(context.Background(), false)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("hung run returned %v after %v", err, time.Since(start))
	}
}
