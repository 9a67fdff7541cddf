package oncesim_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/testkit/oncesim"
)

func TestFaultEffects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault oncesim.Fault
		check func(t *testing.T, r response)
	}{
		{name: "status 500", fault: oncesim.Fault{Match: "sims", Times: 1, Status: 500},
			check: wantStatusBody(500, `"status_code":500`)},
		{name: "status 500 with body", fault: oncesim.Fault{Match: "sims", Times: 1, Status: 500, Body: "oops"},
			check: wantStatusBody(500, "oops")},
		{name: "429 with retry_after", fault: oncesim.Fault{Match: "sims", Times: 1, Status: 429, RetryAfter: "7"},
			check: func(t *testing.T, r response) {
				wantStatusBody(429, "")(t, r)
				if r.header.Get("Retry-After") != "7" {
					t.Fatalf("Retry-After = %q, want 7", r.header.Get("Retry-After"))
				}
			}},
		{name: "omit header", fault: oncesim.Fault{Match: "sims", Times: 1, OmitHeader: onceapi.HeaderTotalPages},
			check: func(t *testing.T, r response) {
				wantStatusBody(200, "iccid")(t, r)
				if _, ok := r.header[onceapi.HeaderTotalPages]; ok || r.header.Get(onceapi.HeaderTotalCount) != "3" {
					t.Fatalf("headers %v: want no X-Total-Pages, X-Total-Count 3", r.header)
				}
			}},
		{name: "set headers", fault: oncesim.Fault{Match: "sims", Times: 1, SetHeaders: map[string]string{onceapi.HeaderTotalPages: "0"}},
			check: func(t *testing.T, r response) {
				wantStatusBody(200, "iccid")(t, r)
				if r.header.Get(onceapi.HeaderTotalPages) != "0" {
					t.Fatalf("X-Total-Pages = %q, want 0", r.header.Get(onceapi.HeaderTotalPages))
				}
			}},
		{name: "invalid JSON body", fault: oncesim.Fault{Match: "sims", Times: 1, Body: `[{"iccid":`},
			check: func(t *testing.T, r response) {
				wantStatusBody(200, `[{"iccid":`)(t, r)
				if r.body != `[{"iccid":` || r.header.Get(onceapi.HeaderTotalPages) != "1" {
					t.Fatalf("body %q headers %v: want the raw body and the real headers", r.body, r.header)
				}
			}},
		{name: "reset", fault: oncesim.Fault{Match: "sims", Times: 1, Reset: true},
			check: func(t *testing.T, r response) {
				if r.err == nil {
					t.Fatalf("got %d %s, want a transport error", r.status, r.body)
				}
			}},
		{name: "truncate", fault: oncesim.Fault{Match: "sims", Times: 1, Truncate: true},
			check: func(t *testing.T, r response) {
				if r.status != 200 || !errors.Is(r.err, io.ErrUnexpectedEOF) || len(r.body) == 0 {
					t.Fatalf("got %d, %d body bytes, err %v; want 200, half a body, unexpected EOF", r.status, len(r.body), r.err)
				}
			}},
		{name: "truncate injected status", fault: oncesim.Fault{Match: "sims", Times: 1, Status: 503, Truncate: true},
			check: func(t *testing.T, r response) {
				if r.status != 503 || !errors.Is(r.err, io.ErrUnexpectedEOF) {
					t.Fatalf("got %d, err %v; want 503 and unexpected EOF", r.status, r.err)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sim := startSim(t, 3, nil)
			tok := sim.token(t)
			if err := sim.srv.SetFaults([]oncesim.Fault{tt.fault}); err != nil {
				t.Fatalf("SetFaults: %v", err)
			}
			tt.check(t, sim.fresh(t, tok))
			if r := sim.fresh(t, tok); r.status != 200 || r.err != nil {
				t.Fatalf("after the fault: %d %v, want 200", r.status, r.err)
			}
			if st := sim.srv.Stats(); st.FaultsApplied != 1 {
				t.Fatalf("faults applied = %d, want 1", st.FaultsApplied)
			}
		})
	}
}

// fresh lists page 1 on a new connection, so Go's transport cannot hide a reset by retrying.
func (s *testSim) fresh(t *testing.T, token string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.api+"/v1/sims", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return response{err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(data), err: err}
}

// wantStatusBody checks the status and that the body contains a fragment.
func wantStatusBody(status int, fragment string) func(*testing.T, response) {
	return func(t *testing.T, r response) {
		t.Helper()
		if r.err != nil || r.status != status || !strings.Contains(r.body, fragment) {
			t.Fatalf("got %d %q (err %v), want %d containing %q", r.status, r.body, r.err, status, fragment)
		}
	}
}

func TestFaultDelay(t *testing.T) {
	t.Parallel()
	sim := startSim(t, 3, nil)
	tok := sim.token(t)
	if err := sim.srv.SetFaults([]oncesim.Fault{{Match: "sims", Times: 1, DelayMS: 150}}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := sim.sims(t, tok, "")
	if elapsed := time.Since(start); elapsed < 150*time.Millisecond || r.status != 200 {
		t.Fatalf("answered %d after %v, want 200 after at least 150ms", r.status, elapsed)
	}
}

func TestFaultWindow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		faults []oncesim.Fault
		want   []int // statuses of consecutive requests
	}{
		{name: "times 2", faults: []oncesim.Fault{{Match: "sims", Times: 2, Status: 500}}, want: []int{500, 500, 200}},
		{name: "skip 1 times 1", faults: []oncesim.Fault{{Match: "sims", Skip: 1, Times: 1, Status: 502}}, want: []int{200, 502, 200}},
		{name: "forever", faults: []oncesim.Fault{{Match: "sims", Status: 503}}, want: []int{503, 503, 503}},
		{name: "other endpoint", faults: []oncesim.Fault{{Match: "token", Status: 500}}, want: []int{200, 200}},
		{name: "first due rule wins", faults: []oncesim.Fault{
			{Match: "sims", Times: 1, Status: 500},
			{Match: "sims", Skip: 1, Times: 1, Status: 429},
		}, want: []int{500, 429, 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sim := startSim(t, 1, nil)
			tok := sim.token(t)
			if err := sim.srv.SetFaults(tt.faults); err != nil {
				t.Fatal(err)
			}
			for i, want := range tt.want {
				if r := sim.sims(t, tok, ""); r.status != want {
					t.Fatalf("request %d: status %d, want %d", i, r.status, want)
				}
			}
		})
	}
}

func TestFaultOnToken(t *testing.T) {
	t.Parallel()
	sim := startSim(t, 1, nil)
	if err := sim.srv.SetFaults([]oncesim.Fault{{Match: "token", Times: 1, Status: 500}}); err != nil {
		t.Fatal(err)
	}
	r := sim.tokenRequest(t, testUser, testPassword, `{"grant_type":"client_credentials"}`)
	if r.status != 500 {
		t.Fatalf("status %d, want 500", r.status)
	}
	sim.token(t)
	faults := sim.srv.Faults()
	if len(faults) != 1 || faults[0].Matched != 2 || faults[0].Applied != 1 {
		t.Fatalf("faults %+v, want matched 2 applied 1", faults)
	}
	if st := sim.srv.Stats(); st.TokensIssued != 1 || st.Requests["token"]["500"] != 1 {
		t.Fatalf("stats %+v, want 1 token issued and one 500", st)
	}
}

func TestFaultValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		fault   oncesim.Fault
		wantErr string
	}{
		{name: "valid", fault: oncesim.Fault{Match: "sims", Status: 500}},
		{name: "bad match", fault: oncesim.Fault{Match: "admin", Status: 500}, wantErr: "match"},
		{name: "no effect", fault: oncesim.Fault{Match: "sims", Times: 1}, wantErr: "no effect"},
		{name: "negative skip", fault: oncesim.Fault{Match: "sims", Skip: -1, Status: 500}, wantErr: "negative"},
		{name: "bad status", fault: oncesim.Fault{Match: "sims", Status: 700}, wantErr: "status"},
		{name: "reset with status", fault: oncesim.Fault{Match: "sims", Status: 500, Reset: true}, wantErr: "reset"},
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
