package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/testkit/oncesim"
	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
	"github.com/simbridge/simbridge/services/sim-poller/internal/service"
)

// slowPages makes every SIM page take delay, so a run lasts long enough for
// another replica to try to start one meanwhile.
func slowPages(t *testing.T, e *env, delay time.Duration) {
	t.Helper()
	if err := e.sim.SetFaults([]oncesim.Fault{{Match: oncesim.EndpointSIMs, DelayMS: int(delay.Milliseconds())}}); err != nil {
		t.Fatal(err)
	}
}

func TestTwoPollersStartedTogetherRunOnce(t *testing.T) {
	t.Parallel()
	e := standard(listed)(t)
	slowPages(t, e, 300*time.Millisecond)
	pollers := []*service.Poller{
		e.poller(t, func(c *service.Config) { c.SyncOnStart = true }),
		e.poller(t, func(c *service.Config) { c.SyncOnStart = true }),
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, p := range pollers {
		wg.Go(func() {
			if err := p.Serve(ctx); err != nil {
				t.Errorf("serve: %v", err)
			}
		})
	}
	runs := func(result string) float64 {
		return metric(t, pollers[0].Registry, "simbridge_sim_poller_runs_total", result) +
			metric(t, pollers[1].Registry, "simbridge_sim_poller_runs_total", result)
	}
	deadline := time.Now().Add(30 * time.Second)
	for runs("success")+runs("skipped") < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if runs("success") != 1 || runs("skipped") != 1 {
		t.Fatalf("runs: %v succeeded, %v skipped; want one run and one replica skipping", runs("success"), runs("skipped"))
	}
	st := e.sim.Stats()
	if st.Requests[oncesim.EndpointSIMs]["200"] != 3 || st.TokensIssued != 1 {
		t.Errorf("1NCE saw %v SIM pages and %d token requests; want one listing of 3 pages", st.Requests[oncesim.EndpointSIMs], st.TokensIssued)
	}
	if got := e.commands(t); got[events.KindCreate] != 5 || got[events.KindDisable] != 1 {
		t.Errorf("published %v", got)
	}
}

func TestSyncAnswers409WhileAnotherReplicaHoldsTheLease(t *testing.T) {
	t.Parallel()
	e := standard(listed)(t)
	slowPages(t, e, 300*time.Millisecond)
	a, b := e.poller(t, nil), e.poller(t, nil)
	api := httptest.NewServer(b.HTTP)
	t.Cleanup(api.Close)

	done := make(chan error, 1)
	go func() { _, err := a.Syncer.Sync(context.Background(), false); done <- err }()
	for e.sim.Stats().Requests[oncesim.EndpointSIMs]["200"] < 1 {
		time.Sleep(10 * time.Millisecond)
	}
	code, body := postSync(t, api.URL+"/sync")
	if code != http.StatusConflict || !strings.Contains(body, "another replica") {
		t.Fatalf("POST /sync during the other replica's run: %d %s; want 409 naming the other replica", code, body)
	}
	if err := <-done; err != nil {
		t.Fatalf("first replica's run: %v", err)
	}
	code, body = postSync(t, api.URL+"/sync")
	var sum app.Summary
	if code != http.StatusOK || json.Unmarshal([]byte(body), &sum) != nil || !sum.Complete || sum.Listed != listed {
		t.Fatalf("POST /sync after the lease was released: %d %s", code, body)
	}
}

func TestGuardRefusesAMassDisableUntilForced(t *testing.T) {
	t.Parallel()
	e := newEnv(t, listed)
	var gone []string
	for i := range 10 {
		gone = append(gone, fmt.Sprintf("89882806669999999%02d", i))
	}
	e.seed(t, 0, 20, gone...)
	p := e.poller(t, nil)
	api := httptest.NewServer(p.HTTP)
	t.Cleanup(api.Close)

	code, body := postSync(t, api.URL+"/sync")
	var sum app.Summary
	// The guard allows 5: confirming stops once a 6th SIM is proven gone.
	if code != http.StatusUnprocessableEntity || json.Unmarshal([]byte(body), &sum) != nil || !sum.GuardRefused || sum.DisablesWithheld < 6 || sum.Absent != 10 {
		t.Fatalf("POST /sync: %d %s; want 422, the guard withholding at least 6 disables of 10 absent SIMs", code, body)
	}
	if got := e.commands(t); got[events.KindDisable] != 0 || got[events.KindCreate] != 5 {
		t.Fatalf("published %v; the guard must withhold disables, not creates", got)
	}
	assertOneNotification(t, notifications(t, e.failures), []string{"refused to disable", "more than the 5 one run may disable", "10 active SIMs absent", "force=true"})
	if got := unlabelled(t, p, "simbridge_sim_poller_guard_refusals_total"); got != 1 {
		t.Errorf("guard_refusals_total = %v", got)
	}
	assertNoSuccess(t, e, p, "guard_refused")

	code, body = postSync(t, api.URL+"/sync?force=true")
	if code != http.StatusOK {
		t.Fatalf("forced POST /sync: %d %s", code, body)
	}
	if got := e.commands(t); got[events.KindDisable] != 10 {
		t.Fatalf("forced run published %v, want 10 disables", got)
	}
	assertOneNotification(t, notifications(t, e.failures), nil)
}

func postSync(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
