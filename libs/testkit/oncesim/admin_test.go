package oncesim_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/testkit/oncesim"
)

func TestAdminEndpoints(t *testing.T) {
	t.Parallel()
	const first = "8988280666000000000"
	tests := []struct {
		name, method, path, body string
		wantStatus               int
		wantInBody               string
	}{
		{name: "list", method: "GET", path: "/admin/sims", wantStatus: 200, wantInBody: `"iccid":"` + first + `"`},
		{name: "add one", method: "POST", path: "/admin/sims", body: `{"iccid":"1","ip_address":"10.9.9.9"}`, wantStatus: 201, wantInBody: `"added":1`},
		{name: "add many", method: "POST", path: "/admin/sims", body: `[{"iccid":"1"},{"iccid":"2","status":"Disabled"}]`, wantStatus: 201, wantInBody: `"added":2`},
		{name: "add existing", method: "POST", path: "/admin/sims", body: `{"iccid":"` + first + `"}`, wantStatus: 409, wantInBody: first},
		{name: "add duplicate in batch", method: "POST", path: "/admin/sims", body: `[{"iccid":"1"},{"iccid":"1"}]`, wantStatus: 400, wantInBody: "twice"},
		{name: "add without iccid", method: "POST", path: "/admin/sims", body: `{"ip_address":"10.0.0.1"}`, wantStatus: 400, wantInBody: "missing iccid"},
		{name: "add bad status", method: "POST", path: "/admin/sims", body: `{"iccid":"1","status":"On"}`, wantStatus: 400, wantInBody: "status"},
		{name: "add bad JSON", method: "POST", path: "/admin/sims", body: `{`, wantStatus: 400, wantInBody: "invalid JSON"},
		{name: "delete", method: "DELETE", path: "/admin/sims/" + first, wantStatus: 204},
		{name: "delete absent", method: "DELETE", path: "/admin/sims/42", wantStatus: 404, wantInBody: "not found"},
		{name: "patch status", method: "PATCH", path: "/admin/sims/" + first, body: `{"status":"Disabled"}`, wantStatus: 200, wantInBody: `"status":"Disabled"`},
		{name: "patch ip", method: "PATCH", path: "/admin/sims/" + first, body: `{"ip_address":"10.1.2.3"}`, wantStatus: 200, wantInBody: `"ip_address":"10.1.2.3"`},
		{name: "patch empty ip", method: "PATCH", path: "/admin/sims/" + first, body: `{"ip_address":""}`, wantStatus: 200, wantInBody: `"ip_address":""`},
		{name: "patch both", method: "PATCH", path: "/admin/sims/" + first, body: `{"status":"Disabled","ip_address":"10.1.2.3"}`, wantStatus: 200, wantInBody: `"ip_address":"10.1.2.3"`},
		{name: "patch invalid status", method: "PATCH", path: "/admin/sims/" + first, body: `{"status":"Paused"}`, wantStatus: 400, wantInBody: "Paused"},
		{name: "patch nothing", method: "PATCH", path: "/admin/sims/" + first, body: `{}`, wantStatus: 400, wantInBody: "changes nothing"},
		{name: "patch unknown field", method: "PATCH", path: "/admin/sims/" + first, body: `{"ip":"1.2.3.4"}`, wantStatus: 400, wantInBody: "unknown field"},
		{name: "patch absent", method: "PATCH", path: "/admin/sims/42", body: `{"status":"Enabled"}`, wantStatus: 404},
		{name: "get faults", method: "GET", path: "/admin/faults", wantStatus: 200, wantInBody: "[]"},
		{name: "put faults", method: "PUT", path: "/admin/faults", body: `[{"match":"sims","times":1,"status":500}]`, wantStatus: 200, wantInBody: `"matched":0`},
		{name: "put invalid fault", method: "PUT", path: "/admin/faults", body: `[{"match":"sims"}]`, wantStatus: 400, wantInBody: "fault 0"},
		{name: "put fault typo", method: "PUT", path: "/admin/faults", body: `[{"match":"sims","staus":500}]`, wantStatus: 400, wantInBody: "unknown field"},
		{name: "clear faults", method: "DELETE", path: "/admin/faults", wantStatus: 204},
		{name: "expire tokens", method: "POST", path: "/admin/tokens/expire", wantStatus: 200, wantInBody: `"expired":0`},
		{name: "stats", method: "GET", path: "/admin/stats", wantStatus: 200, wantInBody: `"tokens_issued":0`},
		{name: "reset stats", method: "DELETE", path: "/admin/stats", wantStatus: 204},
		{name: "wrong method", method: "PUT", path: "/admin/sims", wantStatus: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sim := startSim(t, 2, nil)
			r := sim.do(t, tt.method, sim.hs.URL+tt.path, map[string]string{"Content-Type": "application/json"}, tt.body)
			if r.status != tt.wantStatus || !strings.Contains(r.body, tt.wantInBody) {
				t.Fatalf("%s %s: got %d %s, want %d containing %q", tt.method, tt.path, r.status, r.body, tt.wantStatus, tt.wantInBody)
			}
		})
	}
}

func TestAdminChangesAreServed(t *testing.T) {
	t.Parallel()
	sim := startSim(t, 2, nil)
	ctx := t.Context()
	all := sim.srv.Inventory().List()
	steps := []struct {
		name string
		do   func() error
	}{
		{name: "disable", do: func() error { return sim.admin.SetStatus(ctx, all[0].ICCID, onceapi.StatusDisabled) }},
		{name: "drop IP", do: func() error { return sim.admin.SetIP(ctx, all[1].ICCID, "") }},
		{name: "add", do: func() error { return sim.admin.AddSIMs(ctx, onceapi.SIM{ICCID: "0001", IPAddress: "10.0.0.200"}) }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
	var got []onceapi.SIM
	mustJSON(t, sim.sims(t, sim.token(t), "pageSize=100").body, &got)
	if len(got) != 3 || got[0].ICCID != "0001" || got[0].Status != onceapi.StatusEnabled ||
		got[1].Status != onceapi.StatusDisabled || got[2].IPAddress != "" {
		t.Fatalf("served %+v, want the new SIM first, then the disabled one, then the one without IP", got)
	}
}

func TestStatsCountsOutcomes(t *testing.T) {
	t.Parallel()
	sim := startSim(t, 1, nil)
	tok := sim.token(t)
	if err := sim.srv.SetFaults([]oncesim.Fault{{Match: "sims", Times: 1, Reset: true}}); err != nil {
		t.Fatal(err)
	}
	sim.fresh(t, tok)
	sim.sims(t, tok, "")
	sim.sims(t, "bad", "")
	sim.tokenRequest(t, testUser, "bad", `{"grant_type":"client_credentials"}`)
	st, err := sim.admin.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]int64{
		"token": {"200": 1, "400": 1},
		"sims":  {"reset": 1, "200": 1, "401": 1},
	}
	for ep, byOutcome := range want {
		for outcome, n := range byOutcome {
			if st.Requests[ep][outcome] != n {
				t.Errorf("requests[%s][%s] = %d, want %d (all: %v)", ep, outcome, st.Requests[ep][outcome], n, st.Requests)
			}
		}
	}
	if st.TokensIssued != 1 || st.FaultsApplied != 1 {
		t.Errorf("tokens issued %d, faults applied %d; want 1 and 1", st.TokensIssued, st.FaultsApplied)
	}
	if r := sim.do(t, http.MethodDelete, sim.hs.URL+"/admin/stats", nil, ""); r.status != http.StatusNoContent {
		t.Fatalf("reset stats: %d", r.status)
	}
	if st := sim.srv.Stats(); len(st.Requests) != 0 || st.TokensIssued != 0 {
		t.Fatalf("after reset: %+v", st)
	}
}
