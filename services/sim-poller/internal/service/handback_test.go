package service_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/oncesim"
	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
	"github.com/simbridge/simbridge/services/sim-poller/internal/service"
)

// A sim-poller that stops during a rolling deploy hands the sync requests it
// took but did not finish back to the queue: another replica acts on a Data
// Streamer hint within seconds, not after the queue's 60 s visibility
// timeout — whether the hint reached the stopping replica's long poll after
// the stop, or its run was under way and stopped with the service.
func TestAStoppingPollerHandsBackItsSyncRequests(t *testing.T) {
	t.Parallel()
	const visibility, within = 60 * time.Second, 15 * time.Second // the bootstrap's visibility timeout; far below it
	tests := []struct {
		name string
		// sendFirst sends the hint before the stop (else right after it);
		// atStop, when set, returns when the poller should be stopped.
		sendFirst bool
		atStop    func(t *testing.T, e *env)
		// logs are what the stopped poller must have logged.
		logs []string
	}{
		{name: "hint taken by the long poll of a poller being stopped",
			logs: []string{"message handed back to the queue at shutdown", "received as the service stopped"}},
		{name: "hint being looked up when the poller stops", sendFirst: true,
			atStop: func(t *testing.T, e *env) {
				testkit.Eventually(t, 30*time.Second, "the hint's 1NCE lookup under way", func() error {
					if e.sim.Stats().FaultsApplied == 0 {
						return errors.New("no lookup yet")
					}
					return nil
				})
			},
			logs: []string{"message handed back to the queue at shutdown", "interrupted"}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, 3)
			iccid := e.sim.Inventory().List()[0].ICCID
			if tc.sendFirst {
				// The stopping poller's lookup hangs; the replica's passes.
				if err := e.sim.SetFaults([]oncesim.Fault{{Match: oncesim.EndpointSIM, ICCID: iccid, Times: 1, DelayMS: 120_000}}); err != nil {
					t.Fatal(err)
				}
			}
			polling := make(chan struct{}, 1)
			cfg := e.config()
			cfg.ShutdownTimeout = 25 * time.Second // the default: 5 s long polls
			logs := &testkit.LogBuffer{}
			stopping, err := service.New(context.Background(), cfg, testkit.BeforeSending(e.aws, "ReceiveMessage", func() {
				select {
				case polling <- struct{}{}:
				default:
				}
			}), slog.New(slog.NewJSONHandler(logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			ctx, stop := context.WithCancel(context.Background())
			served := make(chan error, 1)
			go func() { served <- stopping.Serve(ctx) }()
			t.Cleanup(stop)
			select {
			case <-polling:
			case <-time.After(30 * time.Second):
				t.Fatal("the poller never polled its request queue")
			}
			id := "hint-" + string(rune('a'+i))
			hint := events.SyncRequest{ID: id, Source: events.SourceDataStreamer, ICCIDs: []string{iccid}}
			if tc.sendFirst {
				e.request(t, hint)
			}
			if tc.atStop != nil {
				tc.atStop(t, e)
			}
			stop()
			if !tc.sendFirst {
				e.request(t, hint)
			}
			sent := time.Now()
			serve(t, e.poller(t, nil))
			res := e.awaitResult(t, id, within)
			t.Logf("the replica finished the hint %v after the stop; visibility timeout %v", time.Since(sent).Round(time.Millisecond), visibility)
			if res.Status != app.ResultDone {
				t.Fatalf("result %s %s", res.Status, res.Summary)
			}
			select {
			case err := <-served:
				t.Logf("the stopped poller returned %v after the stop", time.Since(sent).Round(time.Millisecond))
				if err != nil {
					t.Fatalf("the stopped poller: %v", err)
				}
			case <-time.After(cfg.ShutdownTimeout):
				t.Fatalf("the stopped poller still serving %v after the stop", cfg.ShutdownTimeout)
			}
			for _, want := range tc.logs {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("the stopped poller's log lacks %q:\n%s", want, logs.String())
				}
			}
			if strings.Contains(logs.String(), "message failed; retrying") {
				t.Errorf("a hand-back at shutdown was logged as a failure:\n%s", logs.String())
			}
		})
	}
}
