package oncesim_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/testkit/oncesim"
)

// one reads GET /v1/sims/{iccid} with token.
func (s *testSim) one(t *testing.T, token, iccid string) response {
	t.Helper()
	return s.do(t, http.MethodGet, s.api+"/v1/sims/"+iccid, map[string]string{"Authorization": "Bearer " + token}, "")
}

func TestSingleSIM(t *testing.T) {
	t.Parallel()
	sim := startSim(t, 3, nil)
	tok := sim.token(t)
	first := sim.srv.Inventory().List()[0]
	if err := sim.srv.Inventory().SetStatus(first.ICCID, onceapi.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, token, iccid string
		wantStatus         int
		wantInBody         string
	}{
		{name: "held SIM", token: tok, iccid: first.ICCID, wantStatus: 200, wantInBody: `"status":"Disabled"`},
		{name: "SIM not in the account", token: tok, iccid: "8988280666999999999", wantStatus: 404,
			wantInBody: `{"status_code":404,"error":"NotFound","message":"SIM 8988280666999999999 not found."}`},
		{name: "no token", iccid: first.ICCID, wantStatus: 401, wantInBody: "Unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sim.one(t, tt.token, tt.iccid)
			if r.status != tt.wantStatus || !strings.Contains(r.body, tt.wantInBody) || r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("got %d %s (%s), want %d containing %s", r.status, r.body, r.header.Get("Content-Type"), tt.wantStatus, tt.wantInBody)
			}
		})
	}
	var got onceapi.SIM
	mustJSON(t, sim.one(t, tok, first.ICCID).body, &got)
	if got.ICCID != first.ICCID || got.IPAddress != first.IPAddress {
		t.Fatalf("served %+v, want %+v", got, first)
	}
	if st := sim.srv.Stats(); st.Requests[oncesim.EndpointSIM]["200"] != 2 || st.Requests[oncesim.EndpointSIM]["404"] != 1 {
		t.Fatalf("stats %v, want two 200 and one 404 for %q", st.Requests, oncesim.EndpointSIM)
	}
}

func TestSingleSIMSharesTheListingsRateLimit(t *testing.T) {
	t.Parallel()
	sim := startSim(t, 3, func(o *oncesim.Options) { o.RateLimit = 0.001; o.RateBurst = 2 })
	tok := sim.token(t)
	iccid := sim.srv.Inventory().List()[0].ICCID
	if r := sim.sims(t, tok, ""); r.status != 200 {
		t.Fatalf("listing: %d", r.status)
	}
	if r := sim.one(t, tok, iccid); r.status != 200 {
		t.Fatalf("first SIM request: %d", r.status)
	}
	if r := sim.one(t, tok, iccid); r.status != 429 || r.header.Get("Retry-After") != "1" {
		t.Fatalf("third request of the customer: %d, want 429 with Retry-After", r.status)
	}
}

func TestFaultFilters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault oncesim.Fault
		// send makes requests and returns their statuses.
		send func(t *testing.T, sim *testSim, tok string) []int
		want []int
	}{
		{name: "one SIM's confirmation fails, another's does not",
			fault: oncesim.Fault{Match: oncesim.EndpointSIM, ICCID: "8988280666000000001", Status: 500},
			send: func(t *testing.T, sim *testSim, tok string) []int {
				return []int{sim.one(t, tok, "8988280666000000001").status, sim.one(t, tok, "8988280666000000000").status,
					sim.one(t, tok, "8988280666000000001").status}
			},
			want: []int{500, 200, 500}},
		{name: "every single-SIM request", fault: oncesim.Fault{Match: oncesim.EndpointSIM, Times: 1, Status: 503},
			send: func(t *testing.T, sim *testSim, tok string) []int {
				return []int{sim.one(t, tok, "8988280666000000002").status, sim.one(t, tok, "8988280666000000002").status}
			},
			want: []int{503, 200}},
		{name: "one page of the listing", fault: oncesim.Fault{Match: oncesim.EndpointSIMs, Page: 2, Status: 502},
			send: func(t *testing.T, sim *testSim, tok string) []int {
				return []int{sim.sims(t, tok, "page=1&pageSize=2").status, sim.sims(t, tok, "page=2&pageSize=2").status,
					sim.sims(t, tok, "pageSize=2").status}
			},
			want: []int{200, 502, 200}},
		{name: "the listing's rules leave single SIMs alone", fault: oncesim.Fault{Match: oncesim.EndpointSIMs, Status: 500},
			send: func(t *testing.T, sim *testSim, tok string) []int {
				return []int{sim.one(t, tok, "8988280666000000000").status, sim.sims(t, tok, "").status}
			},
			want: []int{200, 500}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sim := startSim(t, 5, nil)
			tok := sim.token(t)
			if err := sim.srv.SetFaults([]oncesim.Fault{tt.fault}); err != nil {
				t.Fatal(err)
			}
			got := tt.send(t, sim, tok)
			if len(got) != len(tt.want) {
				t.Fatalf("statuses %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("statuses %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestDropSIMsMakesAShortPageBehindHonestHeaders(t *testing.T) {
	t.Parallel()
	sim := startSim(t, 12, nil)
	tok := sim.token(t)
	if err := sim.srv.SetFaults([]oncesim.Fault{{Match: oncesim.EndpointSIMs, Page: 2, DropSIMs: 2}}); err != nil {
		t.Fatal(err)
	}
	all := sim.srv.Inventory().List()
	for page, want := range map[string][]onceapi.SIM{"1": all[0:5], "2": all[5:8], "3": all[10:12]} {
		r := sim.sims(t, tok, "pageSize=5&page="+page)
		var got []onceapi.SIM
		mustJSON(t, r.body, &got)
		if len(got) != len(want) || got[0].ICCID != want[0].ICCID || got[len(got)-1].ICCID != want[len(want)-1].ICCID {
			t.Errorf("page %s: %d SIMs, want %d (%s..%s)", page, len(got), len(want), want[0].ICCID, want[len(want)-1].ICCID)
		}
		checkPagingHeaders(t, r.header, [4]string{"5", page, "12", "3"})
	}
}

func TestFaultValidateNewRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		fault   oncesim.Fault
		wantErr string
	}{
		{name: "single SIM rule", fault: oncesim.Fault{Match: "sim", ICCID: "1", Status: 500}},
		{name: "drop SIMs on a page", fault: oncesim.Fault{Match: "sims", Page: 3, DropSIMs: 2}},
		{name: "page of a single SIM", fault: oncesim.Fault{Match: "sim", Page: 2, Status: 500}, wantErr: "page"},
		{name: "ICCID of the listing", fault: oncesim.Fault{Match: "sims", ICCID: "1", Status: 500}, wantErr: "iccid"},
		{name: "drop SIMs of a token", fault: oncesim.Fault{Match: "token", DropSIMs: 1}, wantErr: "drop_sims"},
		{name: "drop SIMs with a status", fault: oncesim.Fault{Match: "sims", DropSIMs: 1, Status: 500}, wantErr: "drop_sims"},
		{name: "drop SIMs with reset", fault: oncesim.Fault{Match: "sims", DropSIMs: 1, Reset: true}, wantErr: "drop_sims"},
		{name: "negative drop", fault: oncesim.Fault{Match: "sims", DropSIMs: -1, Status: 500}, wantErr: "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.fault.Validate()
			if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Validate = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}
