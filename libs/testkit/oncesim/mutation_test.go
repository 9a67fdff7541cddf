package oncesim_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/testkit/oncesim"
)

// iccidsOf lists one page (pageSize 5) and returns its ICCIDs and X-Total-Count.
func (s *testSim) iccidsOf(t *testing.T, tok, page string) ([]string, string) {
	t.Helper()
	r := s.sims(t, tok, "pageSize=5&page="+page)
	if r.status != http.StatusOK {
		t.Fatalf("page %s: %d %s", page, r.status, r.body)
	}
	var sims []onceapi.SIM
	mustJSON(t, r.body, &sims)
	var out []string
	for _, s := range sims {
		out = append(out, s.ICCID)
	}
	return out, r.header.Get(onceapi.HeaderTotalCount)
}

func ids(sims []onceapi.SIM) []string {
	var out []string
	for _, s := range sims {
		out = append(out, s.ICCID)
	}
	return out
}

// TestMutationsShiftOffsetPaging reproduces over HTTP what a change of the
// account between two page requests does to offset paging.
func TestMutationsShiftOffsetPaging(t *testing.T) {
	t.Parallel()
	const added = "8988280666000000000a" // sorts right after the first SIM
	tests := []struct {
		name     string
		mutation func(all []onceapi.SIM) oncesim.Mutation
		// wantPage2 are the indexes (in the original inventory) page 2 serves, -1 for the added SIM.
		wantPage2 []int
		wantCount string
	}{
		{name: "a SIM removed after page 1: the first SIM of page 2 slides onto page 1, unseen",
			mutation: func(all []onceapi.SIM) oncesim.Mutation {
				return oncesim.Mutation{AfterPages: 1, Remove: []string{all[1].ICCID}}
			},
			wantPage2: []int{6, 7, 8, 9, 10}, wantCount: "11"},
		{name: "a SIM added after page 1: the last SIM of page 1 is served again",
			mutation: func([]onceapi.SIM) oncesim.Mutation {
				return oncesim.Mutation{AfterPages: 1, Add: []onceapi.SIM{{ICCID: added, IPAddress: "10.9.9.9"}}}
			},
			wantPage2: []int{4, 5, 6, 7, 8}, wantCount: "13"},
		{name: "one removed and one added: the count stays, a SIM is still skipped",
			mutation: func(all []onceapi.SIM) oncesim.Mutation {
				return oncesim.Mutation{AfterPages: 1, Remove: []string{all[1].ICCID}, Add: []onceapi.SIM{{ICCID: "8988280666999999999"}}}
			},
			wantPage2: []int{6, 7, 8, 9, 10}, wantCount: "12"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sim := startSim(t, 12, nil)
			tok := sim.token(t)
			all := sim.srv.Inventory().List()
			if err := sim.admin.SetMutations(t.Context(), tt.mutation(all)); err != nil {
				t.Fatal(err)
			}
			page1, count1 := sim.iccidsOf(t, tok, "1")
			if !slices.Equal(page1, ids(all[0:5])) || count1 != "12" {
				t.Fatalf("page 1 = %v (count %s), want the first five of 12", page1, count1)
			}
			if ms := sim.srv.Mutations(); ms[0].Fired {
				t.Fatal("mutation fired before page 2 was asked for")
			}
			page2, count2 := sim.iccidsOf(t, tok, "2")
			var want []string
			for _, i := range tt.wantPage2 {
				want = append(want, all[i].ICCID)
			}
			if !slices.Equal(page2, want) || count2 != tt.wantCount {
				t.Fatalf("page 2 = %v (count %s), want %v (count %s)", page2, count2, want, tt.wantCount)
			}
			ms, err := sim.admin.Mutations(t.Context())
			if err != nil || len(ms) != 1 || !ms[0].Fired || ms[0].Error != "" {
				t.Fatalf("mutations %+v, %v: want one fired without error", ms, err)
			}
		})
	}
}

func TestMutationCountsOnlyServedPagesSinceItWasSet(t *testing.T) {
	t.Parallel()
	sim := startSim(t, 12, nil)
	tok := sim.token(t)
	sim.iccidsOf(t, tok, "1") // before the mutation is set: does not count
	all := sim.srv.Inventory().List()
	if err := sim.srv.SetFaults([]oncesim.Fault{{Match: oncesim.EndpointSIMs, Times: 1, Status: 500}}); err != nil {
		t.Fatal(err)
	}
	if err := sim.srv.SetMutations([]oncesim.Mutation{{AfterPages: 1, Remove: []string{all[11].ICCID}}}); err != nil {
		t.Fatal(err)
	}
	if r := sim.sims(t, tok, "pageSize=5&page=1"); r.status != 500 {
		t.Fatalf("injected fault: %d", r.status)
	}
	if _, count := sim.iccidsOf(t, tok, "1"); count != "12" {
		t.Fatalf("the 500 was counted as a served page: count %s after one served page", count)
	}
	if _, count := sim.iccidsOf(t, tok, "2"); count != "11" {
		t.Fatalf("count %s on the second served page, want 11", count)
	}
}

func TestMutationThatCannotApplyReportsWhy(t *testing.T) {
	t.Parallel()
	sim := startSim(t, 3, nil)
	tok := sim.token(t)
	if err := sim.srv.SetMutations([]oncesim.Mutation{{Remove: []string{"42"}}}); err != nil {
		t.Fatal(err)
	}
	sim.iccidsOf(t, tok, "1")
	ms := sim.srv.Mutations()
	if !ms[0].Fired || !strings.Contains(ms[0].Error, "not found") {
		t.Fatalf("mutations %+v, want fired with a not-found error", ms)
	}
}

func TestMutationsAdminAPI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, method, body string
		wantStatus         int
		wantInBody         string
	}{
		{name: "set", method: "PUT", body: `[{"after_pages":2,"remove":["1"]}]`, wantStatus: 200, wantInBody: `"fired":false`},
		{name: "set an add", method: "PUT", body: `[{"after_pages":0,"add":[{"iccid":"1"}]}]`, wantStatus: 200, wantInBody: `"after_pages":0`},
		{name: "changes nothing", method: "PUT", body: `[{"after_pages":2}]`, wantStatus: 400, wantInBody: "mutation 0"},
		{name: "negative", method: "PUT", body: `[{"after_pages":-1,"remove":["1"]}]`, wantStatus: 400, wantInBody: "negative"},
		{name: "bad SIM to add", method: "PUT", body: `[{"add":[{"iccid":"1","status":"On"}]}]`, wantStatus: 400, wantInBody: "status"},
		{name: "typo", method: "PUT", body: `[{"after_page":2,"remove":["1"]}]`, wantStatus: 400, wantInBody: "unknown field"},
		{name: "list", method: "GET", wantStatus: 200, wantInBody: "[]"},
		{name: "clear", method: "DELETE", wantStatus: 204},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sim := startSim(t, 1, nil)
			r := sim.do(t, tt.method, sim.hs.URL+"/admin/mutations", nil, tt.body)
			if r.status != tt.wantStatus || !strings.Contains(r.body, tt.wantInBody) {
				t.Fatalf("got %d %s, want %d containing %q", r.status, r.body, tt.wantStatus, tt.wantInBody)
			}
		})
	}
}

func TestAdminClientMutations(t *testing.T) {
	t.Parallel()
	sim := startSim(t, 2, nil)
	ctx := t.Context()
	if err := sim.admin.SetMutations(ctx, oncesim.Mutation{AfterPages: 3, Remove: []string{"1"}}); err != nil {
		t.Fatal(err)
	}
	ms, err := sim.admin.Mutations(ctx)
	if err != nil || len(ms) != 1 || ms[0].AfterPages != 3 || ms[0].Remove[0] != "1" {
		t.Fatalf("Mutations = %+v, %v", ms, err)
	}
	checkAPIError(t, sim.admin.SetMutations(ctx, oncesim.Mutation{}), http.StatusBadRequest)
	if err := sim.admin.ClearMutations(ctx); err != nil || len(sim.srv.Mutations()) != 0 {
		t.Fatalf("ClearMutations: %v, left %+v", err, sim.srv.Mutations())
	}
}
