package service_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/testkit/oncesim"
	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
	"github.com/simbridge/simbridge/services/sim-poller/internal/service"
)

// fleet is the world of the issue: 32 SIMs, all Enabled in 1NCE and
// provisioned in the store, listed 5 per page (7 pages).
const fleet, fleetPage = 32, 5

// newSIM is a SIM 1NCE gains while a listing runs; it sorts before every
// generated one, so adding it shifts every page.
var newSIM = onceapi.SIM{ICCID: "8988280665000000001", IPAddress: "10.2.0.1", Status: onceapi.StatusEnabled}

// fleetPoller serves POST /sync of a poller over the fleet world with the
// guard wide open, so only the listing rules stand between a bad listing
// and a disable.
func fleetPoller(t *testing.T, e *env) (*service.Poller, string) {
	t.Helper()
	p := e.poller(t, func(c *service.Config) {
		c.OncePageSize, c.MaxDisableShare, c.DisableAllowance = fleetPage, 1, 1000
	})
	api := httptest.NewServer(p.HTTP)
	t.Cleanup(api.Close)
	return p, api.URL + "/sync"
}

// TestOnlyAListingThatAddsUpMayDisable reproduces the listings that made
// sim-poller disable SIMs it never proved gone, and variants of them: each
// must end in a failed run that disables nothing and says what did not add up.
func TestOnlyAListingThatAddsUpMayDisable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// setup injects faults and mutations; sims is the inventory.
		setup func(t *testing.T, e *env, sims []onceapi.SIM)
		notes []string
	}{
		{name: "X-Total-Pages 6 while 7 pages exist",
			setup: faults(oncesim.Fault{Match: oncesim.EndpointSIMs, SetHeaders: map[string]string{onceapi.HeaderTotalPages: "6"}}),
			notes: []string{"X-Total-Pages 6 disagrees with X-Total-Count 32 (7 pages of 5)"}},
		{name: "X-Total-Pages 6 while 7 pages exist, no X-Total-Count",
			setup: faults(oncesim.Fault{Match: oncesim.EndpointSIMs, OmitHeader: onceapi.HeaderTotalCount, SetHeaders: map[string]string{onceapi.HeaderTotalPages: "6"}}),
			notes: []string{"page 7 held 2 SIMs, want none (X-Total-Pages 6)"}},
		{name: "no X-Total-Pages and a short page in the middle",
			setup: faults(
				oncesim.Fault{Match: oncesim.EndpointSIMs, Page: 3, DropSIMs: 2, OmitHeader: onceapi.HeaderTotalPages},
				oncesim.Fault{Match: oncesim.EndpointSIMs, OmitHeader: onceapi.HeaderTotalPages}),
			notes: []string{"page 3 held 3 SIMs, want 5", "saw 30 distinct ICCIDs, X-Total-Count said 32"}},
		{name: "a SIM deleted between pages",
			setup: mutations(func(sims []onceapi.SIM) oncesim.Mutation {
				return oncesim.Mutation{AfterPages: 2, Remove: []string{sims[1].ICCID}}
			}),
			notes: []string{"X-Total-Count changed from 32 on page 1 to 31 on page 3", "saw 31 distinct ICCIDs, X-Total-Count said 32"}},
		{name: "a SIM deleted between pages behind frozen headers",
			setup: func(t *testing.T, e *env, sims []onceapi.SIM) {
				faults(oncesim.Fault{Match: oncesim.EndpointSIMs, SetHeaders: map[string]string{onceapi.HeaderTotalCount: "32", onceapi.HeaderTotalPages: "7"}})(t, e, sims)
				mutations(func(sims []onceapi.SIM) oncesim.Mutation {
					return oncesim.Mutation{AfterPages: 2, Remove: []string{sims[1].ICCID}}
				})(t, e, sims)
			},
			notes: []string{"page 7 held 1 SIMs, want 2", "saw 31 distinct ICCIDs, X-Total-Count said 32"}},
		{name: "a SIM inserted between pages",
			setup: mutations(func([]onceapi.SIM) oncesim.Mutation {
				return oncesim.Mutation{AfterPages: 1, Add: []onceapi.SIM{newSIM}}
			}),
			notes: []string{`ICCID "8988280666000000004" listed again on page 2`, "X-Total-Count changed from 32 on page 1 to 33 on page 2"}},
		{name: "X-Total-Count changing mid-listing",
			setup: faults(oncesim.Fault{Match: oncesim.EndpointSIMs, Page: 4, SetHeaders: map[string]string{onceapi.HeaderTotalCount: "31"}}),
			notes: []string{"X-Total-Count changed from 32 on page 1 to 31 on page 4"}},
		{name: "X-Total-Count larger than what is listed",
			setup: faults(oncesim.Fault{Match: oncesim.EndpointSIMs, OmitHeader: onceapi.HeaderTotalPages, SetHeaders: map[string]string{onceapi.HeaderTotalCount: "40"}}),
			notes: []string{"saw 32 distinct ICCIDs, X-Total-Count said 40"}},
		{name: "an empty page in the middle",
			setup: faults(oncesim.Fault{Match: oncesim.EndpointSIMs, Page: 5, DropSIMs: 5}),
			notes: []string{"page 5 held 0 SIMs, want 5"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, fleet)
			e.seed(t, 0, fleet)
			tc.setup(t, e, e.sim.Inventory().List())
			p, url := fleetPoller(t, e)

			code, body := postSync(t, url)
			var sum app.Summary
			if code != http.StatusBadGateway || json.Unmarshal([]byte(body), &sum) != nil || sum.Complete {
				t.Fatalf("POST /sync: %d %s; want 502 with an incomplete listing", code, body)
			}
			if got := e.commands(t); got[events.KindDisable] != 0 {
				t.Errorf("published %v: an incomplete listing must disable nothing", got)
			}
			assertOneNotification(t, notifications(t, e.failures), append([]string{"SIM listing incomplete", "no SIM disabled"}, tc.notes...))
			assertNoSuccess(t, e, p, "listing_incomplete")
			if st := e.sim.Stats(); st.Requests[oncesim.EndpointSIM] != nil {
				t.Errorf("asked about single SIMs %v after an incomplete listing", st.Requests[oncesim.EndpointSIM])
			}
		})
	}
}

// TestTheSIMDeletedBetweenPagesIsDisabledByTheNextRun checks the run after
// an incomplete one: the SIM really left, the listing adds up, and the
// single-SIM endpoint's 404 disables it.
func TestTheSIMDeletedBetweenPagesIsDisabledByTheNextRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t, fleet)
	e.seed(t, 0, fleet)
	sims := e.sim.Inventory().List()
	mutations(func([]onceapi.SIM) oncesim.Mutation {
		return oncesim.Mutation{AfterPages: 2, Remove: []string{sims[1].ICCID}}
	})(t, e, sims)
	p, url := fleetPoller(t, e)
	if code, body := postSync(t, url); code != http.StatusBadGateway {
		t.Fatalf("first run: %d %s, want 502", code, body)
	}
	_ = notifications(t, e.failures)

	code, body := postSync(t, url)
	var sum app.Summary
	if code != http.StatusOK || json.Unmarshal([]byte(body), &sum) != nil || !sum.Complete || sum.Absent != 1 || sum.Drift != 0 {
		t.Fatalf("second run: %d %s; want 200, one absent SIM", code, body)
	}
	if got := e.commands(t); got[events.KindDisable] != 1 {
		t.Fatalf("second run published %v, want the deleted SIM disabled", got)
	}
	if got := e.sim.Stats().Requests[oncesim.EndpointSIM]["404"]; got != 1 {
		t.Errorf("single-SIM answers %v, want one 404 proving the SIM gone", e.sim.Stats().Requests[oncesim.EndpointSIM])
	}
	if metric(t, p.Registry, "simbridge_sim_poller_runs_total", "success") != 1 || unlabelled(t, p, "simbridge_sim_poller_last_success_timestamp_seconds") == 0 {
		t.Error("the complete run did not count as a success")
	}
}

// TestASIMSkippedByAConsistentListingIsKeptAsDrift covers the change the
// listing cannot see: one SIM removed and one added between two pages keep
// every count right, yet a SIM slides onto a page already read. The
// single-SIM endpoint says it is Enabled: it keeps its access.
func TestASIMSkippedByAConsistentListingIsKeptAsDrift(t *testing.T) {
	t.Parallel()
	e := newEnv(t, fleet)
	e.seed(t, 0, fleet)
	sims := e.sim.Inventory().List()
	late := onceapi.SIM{ICCID: "8988280666999999990", IPAddress: "10.2.0.9", Status: onceapi.StatusEnabled}
	mutations(func([]onceapi.SIM) oncesim.Mutation {
		return oncesim.Mutation{AfterPages: 2, Remove: []string{sims[1].ICCID}, Add: []onceapi.SIM{late}}
	})(t, e, sims)
	p, url := fleetPoller(t, e)

	code, body := postSync(t, url)
	var sum app.Summary
	if code != http.StatusOK || json.Unmarshal([]byte(body), &sum) != nil || !sum.Complete || sum.Drift != 1 || sum.Absent != 1 {
		t.Fatalf("POST /sync: %d %s; want 200, one absent SIM kept as drift", code, body)
	}
	if len(sum.DriftExamples) != 1 || sum.DriftExamples[0] != sims[10].ICCID {
		t.Errorf("drift examples %v, want the SIM that slid across the page boundary, %s", sum.DriftExamples, sims[10].ICCID)
	}
	if got := e.commands(t); got[events.KindDisable] != 0 || got[events.KindCreate] != 1 {
		t.Errorf("published %v, want only the added SIM created", got)
	}
	if got := unlabelled(t, p, "simbridge_sim_poller_listing_drift_total"); got != 1 {
		t.Errorf("listing_drift_total = %v, want 1", got)
	}
	assertOneNotification(t, notifications(t, e.failures), nil)
}

// TestAbsentSIMsAreConfirmedOneByOne runs the fleet world plus goneICCID,
// which the store holds active and 1NCE does not list, and lets the
// single-SIM endpoint answer for it.
func TestAbsentSIMsAreConfirmedOneByOne(t *testing.T) {
	t.Parallel()
	answer := func(status string) oncesim.Fault {
		return oncesim.Fault{Match: oncesim.EndpointSIM, ICCID: goneICCID, Status: 200,
			Body: `{"iccid":"` + goneICCID + `","ip_address":"10.9.0.1","status":"` + status + `"}`}
	}
	tests := []struct {
		name        string
		faults      []oncesim.Fault
		wantCode    int
		wantDisable int
		wantDrift   int
		notes       []string
		cause       string
		check       func(t *testing.T, e *env, p *service.Poller)
	}{
		{name: "404: gone, disabled", wantCode: 200, wantDisable: 1},
		{name: "Disabled: disabled", faults: []oncesim.Fault{answer(onceapi.StatusDisabled)}, wantCode: 200, wantDisable: 1},
		{name: "Enabled: kept as listing drift", faults: []oncesim.Fault{answer(onceapi.StatusEnabled)}, wantCode: 200, wantDrift: 1},
		{name: "500 after every retry: kept, and the run fails", faults: []oncesim.Fault{{Match: oncesim.EndpointSIM, ICCID: goneICCID, Status: 500}},
			wantCode: 502, notes: []string{"could not say whether 1 of 1 absent SIMs are gone", "status 500"}, cause: "confirmation_failed"},
		{name: "429 is waited out", faults: []oncesim.Fault{{Match: oncesim.EndpointSIM, Times: 2, Status: 429, RetryAfter: "0"}},
			wantCode: 200, wantDisable: 1, check: func(t *testing.T, _ *env, p *service.Poller) {
				if got := metric(t, p.Registry, "simbridge_sim_poller_api_requests_total", "sim"); got != 3 {
					t.Errorf("%v single-SIM requests, want 3 (two 429s, then the answer)", got)
				}
			}},
		{name: "a rejected token is refreshed", faults: []oncesim.Fault{{Match: oncesim.EndpointSIM, Times: 1, Status: 401}},
			wantCode: 200, wantDisable: 1, check: func(t *testing.T, e *env, _ *service.Poller) {
				if got := e.sim.Stats().TokensIssued; got != 2 {
					t.Errorf("%d tokens issued, want a refresh after the 401", got)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, fleet)
			e.seed(t, 0, fleet, goneICCID)
			if err := e.sim.SetFaults(tc.faults); err != nil {
				t.Fatal(err)
			}
			p, url := fleetPoller(t, e)
			code, body := postSync(t, url)
			var sum app.Summary
			if code != tc.wantCode || json.Unmarshal([]byte(body), &sum) != nil || !sum.Complete || sum.Absent != 1 || sum.Drift != tc.wantDrift {
				t.Fatalf("POST /sync: %d %s; want %d, one absent SIM, drift %d", code, body, tc.wantCode, tc.wantDrift)
			}
			if got := e.commands(t); got[events.KindDisable] != tc.wantDisable {
				t.Errorf("published %v, want %d disables", got, tc.wantDisable)
			}
			assertOneNotification(t, notifications(t, e.failures), tc.notes)
			if tc.cause != "" {
				assertNoSuccess(t, e, p, tc.cause)
			}
			if tc.check != nil {
				tc.check(t, e, p)
			}
		})
	}
}

// TestConfirmationsHonourTheRateLimit asks about 8 absent SIMs of an account
// that allows 5 requests per second (a burst of 2 absorbs loopback jitter):
// the poller paces itself, so 1NCE never answers 429.
func TestConfirmationsHonourTheRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, 10, func(o *oncesim.Options) { o.RateLimit, o.RateBurst = 5, 2 })
	var gone []string
	for i := range 8 {
		gone = append(gone, "89882806669999999"+string(rune('0'+i))+"0")
	}
	e.seed(t, 0, 10, gone...)
	p := e.poller(t, func(c *service.Config) { c.OncePageSize, c.OnceRateLimit, c.DisableAllowance = fleetPage, 5, 10 })
	start := time.Now()
	if _, err := p.Syncer.Sync(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	st := e.sim.Stats()
	if st.Requests[oncesim.EndpointSIM]["404"] != 8 || st.Requests[oncesim.EndpointSIM]["429"] != 0 || st.Requests[oncesim.EndpointSIMs]["429"] != 0 {
		t.Fatalf("1NCE answered %v; want 8 SIMs confirmed gone and no 429", st.Requests)
	}
	// 3 pages and 8 questions at 5 per second take about two seconds.
	if elapsed := time.Since(start); elapsed < 1800*time.Millisecond {
		t.Errorf("11 requests took %v, faster than 5 per second", elapsed)
	}
	if got := e.commands(t); got[events.KindDisable] != 8 {
		t.Errorf("published %v, want 8 disables", got)
	}
}

// faults returns a setup that injects fs.
func faults(fs ...oncesim.Fault) func(*testing.T, *env, []onceapi.SIM) {
	return func(t *testing.T, e *env, _ []onceapi.SIM) {
		t.Helper()
		if err := e.sim.SetFaults(fs); err != nil {
			t.Fatal(err)
		}
	}
}

// mutations returns a setup that changes the account between two page requests.
func mutations(m func([]onceapi.SIM) oncesim.Mutation) func(*testing.T, *env, []onceapi.SIM) {
	return func(t *testing.T, e *env, sims []onceapi.SIM) {
		t.Helper()
		if err := e.admin.SetMutations(t.Context(), m(sims)); err != nil {
			t.Fatal(err)
		}
	}
}

// assertNoSuccess checks that the poller's only run counted as a failure
// with cause, and as nothing a "no successful sync" alarm could mistake for
// a success: no success count, no success timestamp, no "sync done" line.
func assertNoSuccess(t *testing.T, e *env, p *service.Poller, cause string) {
	t.Helper()
	if got := metric(t, p.Registry, "simbridge_sim_poller_runs_total", "success"); got != 0 {
		t.Errorf("runs_total{result=success} = %v", got)
	}
	if got := metric(t, p.Registry, "simbridge_sim_poller_run_failures_total", cause); got != 1 {
		t.Errorf("run_failures_total{cause=%s} = %v, want 1", cause, got)
	}
	if got := unlabelled(t, p, "simbridge_sim_poller_last_success_timestamp_seconds"); got != 0 {
		t.Errorf("last_success_timestamp_seconds moved to %v", got)
	}
	if strings.Contains(e.logs.String(), `"msg":"sync done"`) {
		t.Error(`a failed run logged "sync done", which the stack's metric filter counts as a successful sync`)
	}
}
