package service_test

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/testkit/oncesim"
	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
	"github.com/simbridge/simbridge/services/sim-poller/internal/service"
)

// listed is how many SIMs the simulator serves in these tests: 3 pages of 10.
const listed = 25

// standard is the usual world: the simulator lists n SIMs, the store holds
// the first 20 of them and goneICCID, which 1NCE no longer lists.
func standard(n int) func(t *testing.T) *env {
	return func(t *testing.T) *env {
		e := newEnv(t, n)
		e.seed(t, 0, min(20, n), goneICCID)
		return e
	}
}

// clean is what a complete run over the standard world publishes.
var clean = map[events.Kind]int{events.KindCreate: 5, events.KindDisable: 1}

func TestSyncAgainstTheSimulator(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		world  func(t *testing.T) *env
		faults []oncesim.Fault
		// during runs concurrently with the sync.
		during  func(t *testing.T, e *env)
		wantErr bool
		want    map[events.Kind]int
		// notes are substrings of the run's one failure notification; nil: none.
		notes []string
		check func(t *testing.T, e *env, sum app.Summary, p *service.Poller)
	}{
		{name: "clean run creates new SIMs and disables the one that left", want: clean,
			check: func(t *testing.T, _ *env, sum app.Summary, _ *service.Poller) {
				if !sum.Complete || sum.Pages != 3 || sum.Listed != listed || sum.Unchanged != 20 || sum.StoreActive != 21 {
					t.Errorf("summary %+v", sum)
				}
			}},
		{name: "token expiring in the middle of the run is refreshed", want: clean,
			faults: []oncesim.Fault{{Match: oncesim.EndpointSIMs, Skip: 1, Times: 1, DelayMS: 700}},
			during: expireTokensAfterFirstPage,
			check: func(t *testing.T, e *env, _ app.Summary, _ *service.Poller) {
				st := e.sim.Stats()
				if st.TokensIssued != 2 || st.Requests[oncesim.EndpointSIMs]["401"] != 1 {
					t.Errorf("tokens issued %d, SIM page answers %v: want one 401 and one refresh", st.TokensIssued, st.Requests[oncesim.EndpointSIMs])
				}
			}},
		{name: "429 with Retry-After is waited out", want: clean,
			faults: []oncesim.Fault{{Match: oncesim.EndpointSIMs, Skip: 1, Times: 2, Status: 429, RetryAfter: "1"}},
			check:  wantRetries("429", 2)},
		{name: "429 without Retry-After backs off", want: clean,
			faults: []oncesim.Fault{{Match: oncesim.EndpointSIMs, Skip: 1, Times: 2, Status: 429}},
			check:  wantRetries("429", 2)},
		{name: "500s are retried", want: clean,
			faults: []oncesim.Fault{{Match: oncesim.EndpointSIMs, Skip: 1, Times: 3, Status: 500}},
			check:  wantRetries("500", 3)},
		{name: "missing X-Total-Pages ends on the short page", want: clean,
			faults: []oncesim.Fault{{Match: oncesim.EndpointSIMs, OmitHeader: onceapi.HeaderTotalPages}}},
		{name: "zero X-Total-Pages ends on the short page", want: clean,
			faults: []oncesim.Fault{{Match: oncesim.EndpointSIMs, SetHeaders: map[string]string{onceapi.HeaderTotalPages: "0"}}}},
		{name: "missing X-Total-Pages with a full last page ends on the empty page", world: standard(30),
			want:   map[events.Kind]int{events.KindCreate: 10, events.KindDisable: 1},
			faults: []oncesim.Fault{{Match: oncesim.EndpointSIMs, OmitHeader: onceapi.HeaderTotalPages}}},
		{name: "invalid JSON fails the run without disabling", wantErr: true, want: map[events.Kind]int{},
			faults: []oncesim.Fault{{Match: oncesim.EndpointSIMs, Skip: 1, Body: `[{"iccid":`}},
			notes:  []string{"not valid JSON", "no SIM disabled"},
			check: func(t *testing.T, _ *env, _ app.Summary, p *service.Poller) {
				if got := metric(t, p.Registry, "simbridge_sim_poller_run_failures_total", "invalid_json"); got != 1 {
					t.Errorf("run failures by invalid_json = %v", got)
				}
			}},
		{name: "an account listing 0 SIMs disables nothing and is no success", world: standard(0), wantErr: true, want: map[events.Kind]int{},
			notes: []string{"mass-disable guard", "1NCE listed no SIM"},
			check: func(t *testing.T, e *env, _ app.Summary, p *service.Poller) {
				assertNoSuccess(t, e, p, "guard_refused")
				if st := e.sim.Stats(); st.Requests[oncesim.EndpointSIM] != nil {
					t.Errorf("asked about single SIMs %v: an empty listing is refused without questions", st.Requests[oncesim.EndpointSIM])
				}
			}},
		{name: "a page cut short before the declared end disables nothing", wantErr: true, want: map[events.Kind]int{},
			faults: []oncesim.Fault{{Match: oncesim.EndpointSIMs, Skip: 1, Times: 1, Body: `[]`}},
			notes:  []string{"listing incomplete", "no SIM disabled"}},
		{name: "connection resets outlasting the retries disable nothing", wantErr: true, want: map[events.Kind]int{},
			faults: []oncesim.Fault{{Match: oncesim.EndpointSIMs, Skip: 1, Reset: true}},
			notes:  []string{"page 2", "no SIM disabled"}},
		{name: "a truncated page disables nothing", wantErr: true, want: map[events.Kind]int{},
			faults: []oncesim.Fault{{Match: oncesim.EndpointSIMs, Skip: 2, Truncate: true}},
			notes:  []string{"page 3", "no SIM disabled"}},
		{name: "invalid SIMs are reported once per run, not once per SIM", world: brokenData,
			want:  map[events.Kind]int{events.KindCreate: 3, events.KindDisable: 3},
			notes: []string{"invalid_ip=2", "ip_conflict=2"},
			check: func(t *testing.T, _ *env, _ app.Summary, p *service.Poller) {
				if got := metric(t, p.Registry, "simbridge_sim_poller_skipped_sims", "invalid_ip"); got != 2 {
					t.Errorf("skipped_sims{invalid_ip} = %v", got)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			world := tc.world
			if world == nil {
				world = standard(listed)
			}
			e := world(t)
			if err := e.sim.SetFaults(tc.faults); err != nil {
				t.Fatal(err)
			}
			// The guard is wide open here, so only the listing rules keep a
			// broken listing from disabling (TestGuardRefusesAMassDisableUntilForced covers the guard).
			p := e.poller(t, func(c *service.Config) { c.MaxDisableShare, c.DisableAllowance = 1, 1000 })
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if tc.during != nil {
				go tc.during(t, e)
			}
			sum, err := p.Syncer.Sync(ctx, false)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want an error: %v (summary %+v)", err, tc.wantErr, sum)
			}
			if got := e.commands(t); !maps.Equal(got, tc.want) {
				t.Errorf("published %v, want %v", got, tc.want)
			}
			assertOneNotification(t, notifications(t, e.failures), tc.notes)
			if tc.check != nil {
				tc.check(t, e, sum, p)
			}
			e.assertNoSecretsLogged(t)
		})
	}
}

// brokenData is the standard world where 1NCE reports two new SIMs with
// invalid IPs and two stored SIMs claiming one IP.
func brokenData(t *testing.T) *env {
	e := standard(listed)(t)
	sims := e.sim.Inventory().List()
	for _, change := range []struct{ iccid, ip string }{
		{sims[21].ICCID, "not-an-ip"}, {sims[22].ICCID, "10.1.0.300"}, {sims[1].ICCID, sims[2].IPAddress},
	} {
		if err := e.sim.Inventory().SetIP(change.iccid, change.ip); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// expireTokensAfterFirstPage revokes every token once the first page was
// served, while the second is held back by a delay fault.
func expireTokensAfterFirstPage(t *testing.T, e *env) {
	deadline := time.Now().Add(10 * time.Second)
	for e.sim.Stats().Requests[oncesim.EndpointSIMs]["200"] < 1 {
		if time.Now().After(deadline) {
			t.Error("first page never served")
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.sim.ExpireTokens()
}

// wantRetries checks the poller's retry metric for reason.
func wantRetries(reason string, n float64) func(*testing.T, *env, app.Summary, *service.Poller) {
	return func(t *testing.T, _ *env, _ app.Summary, p *service.Poller) {
		t.Helper()
		if got := metric(t, p.Registry, "simbridge_sim_poller_api_retries_total", reason); got != n {
			t.Errorf("api_retries_total{reason=%s} = %v, want %v", reason, got, n)
		}
	}
}
