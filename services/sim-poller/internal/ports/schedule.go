package ports

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
)

// RunSchedule syncs once at start (when atStart) and then every interval
// until ctx ends. A failed run is logged and retried at the next tick.
func RunSchedule(ctx context.Context, s Syncer, interval time.Duration, atStart bool, logger *slog.Logger) error {
	if atStart {
		runOnce(ctx, s, logger)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			runOnce(ctx, s, logger)
		}
	}
}

func runOnce(ctx context.Context, s Syncer, logger *slog.Logger) {
	sum, err := s.Sync(ctx, false)
	switch {
	case errors.Is(err, app.ErrRunInProgress):
		logger.Info("scheduled sync skipped: a run is in progress")
	case err != nil && ctx.Err() == nil:
		logger.Error("scheduled sync failed", "error", err, "summary", sum)
	case err == nil:
		logger.Info("scheduled sync done", "summary", sum)
	}
}
