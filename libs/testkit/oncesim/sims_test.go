package oncesim_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/testkit/oncesim"
)

func TestPaging(t *testing.T) {
	t.Parallel()
	sim := startSim(t, 25, nil)
	tok := sim.token(t)
	all := sim.srv.Inventory().List()
	tests := []struct {
		name      string
		query     string
		wantFirst int // index in all of the first SIM served
		wantLen   int
		wantHdr   [4]string // count per page, current page, total count, total pages
	}{
		{name: "defaults", query: "", wantFirst: 0, wantLen: 10, wantHdr: [4]string{"10", "1", "25", "3"}},
		{name: "second page", query: "page=2&pageSize=10", wantFirst: 10, wantLen: 10, wantHdr: [4]string{"10", "2", "25", "3"}},
		{name: "last partial page", query: "page=3&pageSize=10", wantFirst: 20, wantLen: 5, wantHdr: [4]string{"10", "3", "25", "3"}},
		{name: "beyond the end", query: "page=4&pageSize=10", wantLen: 0, wantHdr: [4]string{"10", "4", "25", "3"}},
		{name: "far beyond the end", query: "page=999999999", wantLen: 0, wantHdr: [4]string{"10", "999999999", "25", "3"}},
		{name: "max page size", query: "pageSize=100", wantFirst: 0, wantLen: 25, wantHdr: [4]string{"100", "1", "25", "1"}},
		{name: "page size 1", query: "page=25&pageSize=1", wantFirst: 24, wantLen: 1, wantHdr: [4]string{"1", "25", "25", "25"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := sim.sims(t, tok, tt.query)
			if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d, Content-Type %q: %s", r.status, r.header.Get("Content-Type"), r.body)
			}
			checkPagingHeaders(t, r.header, tt.wantHdr)
			var got []onceapi.SIM
			mustJSON(t, r.body, &got)
			if len(got) != tt.wantLen || (tt.wantLen == 0 && strings.TrimSpace(r.body) != "[]") {
				t.Fatalf("got %d SIMs (%s), want %d", len(got), r.body, tt.wantLen)
			}
			for i, s := range got {
				if s.ICCID != all[tt.wantFirst+i].ICCID {
					t.Fatalf("SIM %d = %s, want %s", i, s.ICCID, all[tt.wantFirst+i].ICCID)
				}
			}
		})
	}
}

// checkPagingHeaders compares the four paging headers.
func checkPagingHeaders(t *testing.T, h http.Header, want [4]string) {
	t.Helper()
	names := [4]string{onceapi.HeaderCountPerPage, onceapi.HeaderCurrentPage, onceapi.HeaderTotalCount, onceapi.HeaderTotalPages}
	for i, n := range names {
		if got := h.Get(n); got != want[i] {
			t.Errorf("%s = %q, want %q", n, got, want[i])
		}
	}
}

func TestPagingInvalid(t *testing.T) {
	t.Parallel()
	sim := startSim(t, 5, nil)
	tok := sim.token(t)
	tests := []struct {
		name, query, wantInBody string
	}{
		{name: "page zero", query: "page=0", wantInBody: "page must be >= 1"},
		{name: "negative page", query: "page=-1", wantInBody: "page must be >= 1"},
		{name: "page not a number", query: "page=abc", wantInBody: "page must be an integer"},
		{name: "empty page", query: "page=", wantInBody: "page must be an integer"},
		{name: "page size zero", query: "pageSize=0", wantInBody: "between 1 and 100"},
		{name: "page size too big", query: "pageSize=101", wantInBody: "between 1 and 100"},
		{name: "page size not a number", query: "pageSize=1.5", wantInBody: "pageSize must be an integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := sim.sims(t, tok, tt.query)
			if r.status != http.StatusBadRequest || !strings.Contains(r.body, tt.wantInBody) {
				t.Fatalf("got %d %s, want 400 containing %q", r.status, r.body, tt.wantInBody)
			}
		})
	}
}

func TestEmptyInventoryHasOnePage(t *testing.T) {
	t.Parallel()
	sim := startSim(t, 0, nil)
	r := sim.sims(t, sim.token(t), "")
	checkPagingHeaders(t, r.header, [4]string{"10", "1", "0", "1"})
	if strings.TrimSpace(r.body) != "[]" {
		t.Fatalf("body %q, want []", r.body)
	}
}

func TestBasePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, basePath, wantPath string
	}{
		{name: "default", basePath: oncesim.DefaultBasePath, wantPath: "/management-api"},
		{name: "empty", basePath: "", wantPath: ""},
		{name: "trailing slash", basePath: "/x/api/", wantPath: "/x/api"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sim := startSim(t, 1, func(o *oncesim.Options) { o.BasePath = tt.basePath })
			if sim.srv.BasePath() != tt.wantPath {
				t.Fatalf("BasePath = %q, want %q", sim.srv.BasePath(), tt.wantPath)
			}
			if r := sim.do(t, http.MethodGet, sim.hs.URL+tt.wantPath+"/v1/sims", nil, ""); r.status != http.StatusUnauthorized {
				t.Fatalf("GET %s/v1/sims = %d, want 401 (route exists)", tt.wantPath, r.status)
			}
		})
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	dup := onceapi.SIM{ICCID: "1"}
	tests := []struct {
		name string
		edit func(*oncesim.Options)
	}{
		{name: "no password", edit: func(o *oncesim.Options) { o.Password = "" }},
		{name: "no user", edit: func(o *oncesim.Options) { o.User = "" }},
		{name: "relative base path", edit: func(o *oncesim.Options) { o.BasePath = "api" }},
		{name: "wildcard base path", edit: func(o *oncesim.Options) { o.BasePath = "/{x}" }},
		{name: "admin base path", edit: func(o *oncesim.Options) { o.BasePath = "/admin" }},
		{name: "negative rate", edit: func(o *oncesim.Options) { o.RateLimit = -1 }},
		{name: "negative TTL", edit: func(o *oncesim.Options) { o.TokenTTL = -1 }},
		{name: "duplicate ICCID", edit: func(o *oncesim.Options) { o.SIMs = []onceapi.SIM{dup, dup} }},
		{name: "missing ICCID", edit: func(o *oncesim.Options) { o.SIMs = []onceapi.SIM{{}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := oncesim.DefaultOptions(testUser, testPassword)
			tt.edit(&opts)
			if _, err := oncesim.New(opts); err == nil {
				t.Fatal("New succeeded, want an error")
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	sim := startSim(t, 3, func(o *oncesim.Options) { o.RateLimit = 0.001; o.RateBurst = 2 })
	tok := sim.token(t)
	for i, want := range []int{200, 200, 429, 429} {
		r := sim.sims(t, tok, "")
		if r.status != want {
			t.Fatalf("request %d: status %d, want %d", i, r.status, want)
		}
		if want == 429 && r.header.Get("Retry-After") != "1" {
			t.Fatalf("request %d: Retry-After = %q, want 1", i, r.header.Get("Retry-After"))
		}
	}
	st := sim.srv.Stats()
	if st.Requests[oncesim.EndpointSIMs]["429"] != 2 || st.Requests[oncesim.EndpointSIMs]["200"] != 2 {
		t.Fatalf("stats %+v, want two 200 and two 429", st.Requests)
	}
}

func TestRateLimitDefaultBurst(t *testing.T) {
	t.Parallel()
	sim := startSim(t, 1, func(o *oncesim.Options) { o.RateLimit = 0.001; o.RateBurst = 0 })
	tok := sim.token(t)
	if r := sim.sims(t, tok, ""); r.status != 200 {
		t.Fatalf("first request: %d", r.status)
	}
	if r := sim.sims(t, tok, ""); r.status != 429 {
		t.Fatalf("second request: %d, want 429 (burst defaults to ceil(rate) = 1)", r.status)
	}
}
