package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/simbridge/simbridge/services/sim-poller/internal/service"
)

func TestCronScheduleRunsSyncs(t *testing.T) {
	t.Parallel()
	e := standard(listed)(t)
	p := e.poller(t, func(c *service.Config) { c.SyncSchedule, c.SyncOnStart = "@every 1s", false })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for metric(t, p.Registry, "simbridge_sim_poller_runs_total", "success") < 2 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if got := metric(t, p.Registry, "simbridge_sim_poller_runs_total", "success"); got < 2 {
		t.Fatalf("%v scheduled runs, want at least 2", got)
	}
	if last := unlabelled(t, p, "simbridge_sim_poller_last_success_timestamp_seconds"); time.Since(time.Unix(int64(last), 0)) > time.Minute {
		t.Errorf("last_success_timestamp_seconds = %v, want about now", last)
	}
}
