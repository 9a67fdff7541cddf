package e2e_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/tools/devstack"
)

// TestChangesReachTheDeviceThroughTheDataStreamer: with sim-poller polling
// only once an hour, a SIM added in the simulator becomes onboardable, and
// a SIM disabled there loses access, within seconds: the simulator's Data
// Streamer posts the events to sim-poller's receiver, which looks the SIMs
// up and publishes the commands. No poll runs meanwhile.
func TestChangesReachTheDeviceThroughTheDataStreamer(t *testing.T) {
	s := startStack(t, devstack.Options{SIMs: 2, SyncInterval: time.Hour, ShutdownTimeout: 10 * time.Second})
	if s.StreamURL() == "" {
		t.Fatal("the stack runs without the Data Streamer receiver")
	}
	onboarded(t, s, ips[0]) // the start-up sync provisioned the listed SIMs
	runs := pollerRuns(t, s)
	ctx := context.Background()

	const newICCID, newIP = "8988280666000000077", "127.0.0.77"
	start := time.Now()
	if err := admin(s).AddSIMs(ctx, onceapi.SIM{ICCID: newICCID, IPAddress: newIP}); err != nil {
		t.Fatal(err)
	}
	creds, _ := onboarded(t, s, newIP)
	if creds.ICCID != newICCID {
		t.Fatalf("device at %s got SIM %s", newIP, creds.ICCID)
	}
	t.Logf("added SIM onboardable after %.1f s", time.Since(start).Seconds())

	sims, err := admin(s).ListSIMs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := admin(s).SetStatus(ctx, sims[0].ICCID, onceapi.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	refused(t, s, sims[0].IPAddress)
	t.Logf("disabled SIM refused after %.1f s", time.Since(start).Seconds())

	if got := pollerRuns(t, s); got != runs {
		t.Fatalf("sim-poller ran %v syncs meanwhile: the change must come through the Data Streamer, not a poll", got-runs)
	}
	st, err := admin(s).Streamer(ctx)
	if err != nil || st.Pending != 0 || st.Records == 0 || st.LastStatus != http.StatusOK {
		t.Fatalf("streamer %+v (%v): want every event acknowledged", st, err)
	}
}

var runsLine = regexp.MustCompile(`(?m)^simbridge_sim_poller_runs_total\{result="(?:success|failure)"\} (\S+)$`)

// pollerRuns is how many full syncs sim-poller ran (succeeded or failed).
func pollerRuns(t *testing.T, s *devstack.Stack) float64 {
	t.Helper()
	resp, err := http.Get("http://" + s.Procs["sim-poller"].OpsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	total := 0.0
	for _, m := range runsLine.FindAllStringSubmatch(string(b), -1) {
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatal(fmt.Errorf("metric value %q: %w", m[1], err))
		}
		total += v
	}
	return total
}
