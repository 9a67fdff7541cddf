package ports

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
)

// ParseSchedule turns the configured schedule into a cron schedule: a cron
// expression (5 fields, "@hourly", "@every 10m", optionally "CRON_TZ=Europe/Berlin …")
// when expr is set, else a fixed interval. Times are UTC unless CRON_TZ says otherwise.
func ParseSchedule(expr string, interval time.Duration) (cron.Schedule, error) {
	if strings.TrimSpace(expr) == "" {
		if interval < time.Second {
			return nil, fmt.Errorf("interval %v: at least 1s", interval)
		}
		return cron.Every(interval), nil
	}
	s, err := cron.ParseStandard(expr)
	if err != nil {
		return nil, fmt.Errorf("cron expression %q: %w", expr, err)
	}
	return s, nil
}

// RunSchedule syncs once at start (when atStart) and then on every tick of
// schedule until ctx ends; it returns once a run in progress has stopped. A
// failed run is logged and retried at the next tick; a tick during a run is
// skipped.
func RunSchedule(ctx context.Context, s Syncer, schedule cron.Schedule, atStart bool, logger *slog.Logger) error {
	c := cron.New(cron.WithLocation(time.UTC))
	c.Schedule(schedule, cron.FuncJob(func() { runOnce(ctx, s, logger, "scheduled") }))
	c.Start()
	if atStart {
		runOnce(ctx, s, logger, "start")
	}
	<-ctx.Done()
	<-c.Stop().Done()
	return nil
}

func runOnce(ctx context.Context, s Syncer, logger *slog.Logger, trigger string) {
	if ctx.Err() != nil {
		return
	}
	sum, err := s.Sync(ctx, false)
	switch {
	case errors.Is(err, app.ErrRunInProgress):
		logger.Info("sync skipped", "trigger", trigger, "reason", err.Error())
	case err != nil && ctx.Err() == nil:
		logger.Error("sync failed", "trigger", trigger, "error", err, "summary", sum)
	case err == nil:
		logger.Info("sync done", "trigger", trigger, "summary", sum)
	}
}
