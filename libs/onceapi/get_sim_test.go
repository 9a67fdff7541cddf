package onceapi_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/onceapi"
)

func TestGetSIM(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		iccid  string
		sim    func(http.ResponseWriter, string, int32) bool
		reject bool // the first request's token is refused
		// wantStatus is the SIM's status when the call succeeds.
		wantStatus string
		wantErr    error
		anyErr     bool
		// wantRequests are Observer counts ("sim 200") and wantRetries retry reasons that must appear.
		wantRequests []string
		wantRetries  []string
		// calls is how many requests reached the single-SIM endpoint (0: not checked).
		calls int32
	}{
		{name: "enabled SIM", iccid: simID(2), wantStatus: onceapi.StatusEnabled, wantRequests: []string{"sim 200"}, calls: 1},
		{name: "disabled SIM", iccid: simID(3), wantStatus: onceapi.StatusDisabled, calls: 1},
		{name: "404 is ErrSIMNotFound at once", iccid: simID(99), wantErr: onceapi.ErrSIMNotFound, wantRequests: []string{"sim 404"}, calls: 1},
		{name: "500 is retried", iccid: simID(2), wantStatus: onceapi.StatusEnabled,
			sim: answerOnce[string](500, nil, "oops"), wantRetries: []string{"sim 500"}, calls: 2},
		{name: "429 with Retry-After is retried", iccid: simID(2), wantStatus: onceapi.StatusEnabled,
			sim: answerOnce[string](429, map[string]string{"Retry-After": "0"}, ""), wantRetries: []string{"sim 429"}, calls: 2},
		{name: "invalid JSON once is retried", iccid: simID(2), wantStatus: onceapi.StatusEnabled,
			sim: answerOnce[string](200, nil, `{"iccid":`), wantRequests: []string{"sim invalid_json"}, wantRetries: []string{"sim invalid_json"}},
		{name: "401 refreshes the token", iccid: simID(2), wantStatus: onceapi.StatusEnabled, reject: true,
			wantRequests: []string{"sim 401"}, wantRetries: []string{"sim 401"}},
		{name: "persistent 503 is no verdict", iccid: simID(2), anyErr: true, calls: 4,
			sim: func(w http.ResponseWriter, _ string, _ int32) bool { w.WriteHeader(503); return true }},
		{name: "a list instead of an object is invalid", iccid: simID(2), wantErr: onceapi.ErrInvalidResponse,
			sim: func(w http.ResponseWriter, _ string, _ int32) bool { _, _ = w.Write([]byte(`[]`)); return true }},
		{name: "another SIM's answer is invalid, not retried", iccid: simID(2), wantErr: onceapi.ErrInvalidResponse, calls: 1,
			sim: func(w http.ResponseWriter, _ string, _ int32) bool {
				_, _ = w.Write([]byte(`{"iccid":"8988280666000000777","status":"Disabled"}`))
				return true
			}},
		{name: "400 is final", iccid: simID(2), anyErr: true, calls: 1,
			sim: func(w http.ResponseWriter, _ string, _ int32) bool { w.WriteHeader(400); return true }},
		{name: "empty ICCID is refused without a request", iccid: "", anyErr: true, calls: -1},
		{name: "ICCID that would leave the path is refused", iccid: "../../v1/sims", anyErr: true, calls: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			api := &fakeAPI{total: 10, sim: tc.sim}
			obs := newRecorder()
			c := newClient(t, api, func(c *onceapi.Config) { c.Observer = obs })
			if tc.reject {
				// Fetch the first token through a listing, then make the next request's token fail.
				if _, err := listAll(c); err != nil {
					t.Fatal(err)
				}
				api.rejectTok.Store(true)
			}
			sim, err := c.GetSIM(context.Background(), tc.iccid)
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
			case tc.anyErr:
				if err == nil || errors.Is(err, onceapi.ErrSIMNotFound) {
					t.Fatalf("err = %v, want an error that is not ErrSIMNotFound", err)
				}
			default:
				if err != nil || sim.ICCID != tc.iccid || sim.Status != tc.wantStatus {
					t.Fatalf("got %+v, %v; want SIM %s %s", sim, err, tc.iccid, tc.wantStatus)
				}
			}
			if tc.calls > 0 && api.sims.Load() != tc.calls || tc.calls < 0 && api.sims.Load() != 0 {
				t.Errorf("%d single-SIM requests, want %d", api.sims.Load(), max(tc.calls, 0))
			}
			obs.mu.Lock()
			defer obs.mu.Unlock()
			for _, k := range tc.wantRequests {
				if obs.requests[k] == 0 {
					t.Errorf("requests %v lack %q", obs.requests, k)
				}
			}
			for _, k := range tc.wantRetries {
				if obs.retries[k] == 0 {
					t.Errorf("retries %v lack %q", obs.retries, k)
				}
			}
		})
	}
}

func TestGetSIMNamesTheSIMAndNeverThePassword(t *testing.T) {
	t.Parallel()
	c := newClient(t, &fakeAPI{total: 1}, nil)
	_, err := c.GetSIM(context.Background(), simID(5))
	if !errors.Is(err, onceapi.ErrSIMNotFound) || !strings.Contains(err.Error(), simID(5)) || strings.Contains(err.Error(), "pw") {
		t.Fatalf("err = %v, want ErrSIMNotFound naming the SIM", err)
	}
}

func TestGetSIMSharesTheRateLimit(t *testing.T) {
	t.Parallel()
	api := &fakeAPI{total: 10}
	c := newClient(t, api, func(c *onceapi.Config) { c.RateLimit = 10 })
	start := time.Now()
	for i := range 6 {
		if _, err := c.GetSIM(context.Background(), simID(i)); err != nil {
			t.Fatal(err)
		}
	}
	// A burst of one at 10/s: six calls take at least 0.5 s.
	if elapsed := time.Since(start); elapsed < 450*time.Millisecond {
		t.Fatalf("6 calls took %v, want at least 0.5 s at 10 requests/s", elapsed)
	}
}

func TestGetSIMStopsWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	api := &fakeAPI{total: 10, sim: func(w http.ResponseWriter, _ string, _ int32) bool { w.WriteHeader(500); return true }}
	c := newClient(t, api, func(c *onceapi.Config) { c.MaxTries = 100; c.MaxElapsed = time.Hour })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.GetSIM(ctx, simID(2))
	if err == nil || errors.Is(err, onceapi.ErrSIMNotFound) || time.Since(start) > 5*time.Second {
		t.Fatalf("cancelled GetSIM returned %v after %v", err, time.Since(start))
	}
}
