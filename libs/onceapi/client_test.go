package onceapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/onceapi"
)

// fakeAPI serves total SIMs in pages; hook may replace any answer.
type fakeAPI struct {
	total     int
	tokens    atomic.Int32
	pages     atomic.Int32
	ttl       int
	hook      func(w http.ResponseWriter, page int, call int32) bool
	headers   func(h http.Header, page int)
	validTok  atomic.Value
	rejectTok atomic.Bool
	// rejectAll answers 401 to every SIM request, as for an account without API access.
	rejectAll bool
	// sim may replace the answer of GET /v1/sims/{iccid}; sims counts those requests.
	sim  func(w http.ResponseWriter, iccid string, call int32) bool
	sims atomic.Int32
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/oauth/token":
		user, pw, ok := r.BasicAuth()
		if !ok || user != "u@example.com" || pw != "pw" {
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"error":"BadCredentials","message":"User does not exist."}`))
			return
		}
		n := f.tokens.Add(1)
		tok := fmt.Sprintf("tok-%d", n)
		f.validTok.Store(tok)
		ttl := f.ttl
		if ttl == 0 {
			ttl = 3600
		}
		_ = json.NewEncoder(w).Encode(onceapi.Token{AccessToken: tok, ExpiresIn: ttl, TokenType: "bearer"})
	case "/v1/sims":
		if !f.authorized(r) {
			w.WriteHeader(401)
			return
		}
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		size, _ := strconv.Atoi(r.URL.Query().Get("pageSize"))
		call := f.pages.Add(1)
		if f.hook != nil && f.hook(w, page, call) {
			return
		}
		var sims []onceapi.SIM
		for i := (page - 1) * size; i < page*size && i < f.total; i++ {
			sims = append(sims, onceapi.SIM{ICCID: fmt.Sprintf("89882806660000%05d", i), IPAddress: "10.0.0.1", Status: "Enabled"})
		}
		totalPages := (f.total + size - 1) / size
		w.Header().Set(onceapi.HeaderTotalPages, strconv.Itoa(totalPages))
		w.Header().Set(onceapi.HeaderTotalCount, strconv.Itoa(f.total))
		if f.headers != nil {
			f.headers(w.Header(), page)
		}
		if sims == nil {
			sims = []onceapi.SIM{}
		}
		_ = json.NewEncoder(w).Encode(sims)
	default:
		iccid, ok := strings.CutPrefix(r.URL.Path, "/v1/sims/")
		if !ok {
			http.NotFound(w, r)
			return
		}
		f.serveSIM(w, r, iccid)
	}
}

func (f *fakeAPI) authorized(r *http.Request) bool {
	return r.Header.Get("Authorization") == "Bearer "+f.validTok.Load().(string) && !f.rejectTok.CompareAndSwap(true, false) && !f.rejectAll
}

// serveSIM answers GET /v1/sims/{iccid}: the n-th generated SIM while n <
// total (Disabled when n is odd), else 404 in 1NCE's error shape.
func (f *fakeAPI) serveSIM(w http.ResponseWriter, r *http.Request, iccid string) {
	if !f.authorized(r) {
		w.WriteHeader(401)
		return
	}
	call := f.sims.Add(1)
	if f.sim != nil && f.sim(w, iccid, call) {
		return
	}
	var n int
	if _, err := fmt.Sscanf(iccid, "89882806660000%05d", &n); err != nil || n >= f.total {
		w.WriteHeader(404)
		_, _ = w.Write([]byte(`{"status_code":404,"error":"NotFound","message":"SIM not found"}`))
		return
	}
	status := onceapi.StatusEnabled
	if n%2 == 1 {
		status = onceapi.StatusDisabled
	}
	_ = json.NewEncoder(w).Encode(onceapi.SIM{ICCID: iccid, IPAddress: "10.0.0.1", Status: status})
}

func newClient(t *testing.T, api *fakeAPI, mod func(*onceapi.Config)) *onceapi.Client {
	t.Helper()
	api.validTok.Store("")
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	cfg := onceapi.Config{BaseURL: srv.URL, Username: "u@example.com", Password: "pw", PageSize: 10, RateLimit: 1000, MaxTries: 4}
	if mod != nil {
		mod(&cfg)
	}
	c, err := onceapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func listAll(c *onceapi.Client) (int, error) {
	n := 0
	_, err := c.ListSIMs(context.Background(), func(p []onceapi.SIM) error { n += len(p); return nil })
	return n, err
}

func TestListSIMs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		api      *fakeAPI
		cfg      func(*onceapi.Config)
		want     int
		wantErr  error
		anyErr   bool
		maxPages int32
	}{
		// A full last page is followed by one more request, in case the headers under-declare.
		{name: "exact pages", api: &fakeAPI{total: 30}, want: 30, maxPages: 4},
		{name: "partial last page", api: &fakeAPI{total: 25}, want: 25, maxPages: 3},
		{name: "exactly MaxPages full pages is complete", api: &fakeAPI{total: 50}, want: 50, maxPages: 6,
			cfg: func(c *onceapi.Config) { c.MaxPages = 5 }},
		{name: "no sims", api: &fakeAPI{total: 0}, want: 0, maxPages: 1},
		{name: "missing total pages ends on short page", want: 25, maxPages: 3,
			api: &fakeAPI{total: 25, headers: func(h http.Header, _ int) { h.Del(onceapi.HeaderTotalPages) }}},
		{name: "zero total pages ends on short page", want: 25, maxPages: 3,
			api: &fakeAPI{total: 25, headers: func(h http.Header, _ int) { h.Set(onceapi.HeaderTotalPages, "0") }}},
		{name: "missing total pages with full last page ends on empty page", want: 30, maxPages: 4,
			api: &fakeAPI{total: 30, headers: func(h http.Header, _ int) { h.Del(onceapi.HeaderTotalPages) }}},
		{name: "total pages changing between pages is incomplete", wantErr: onceapi.ErrIncomplete, maxPages: 4,
			api: &fakeAPI{total: 25, headers: func(h http.Header, p int) { h.Set(onceapi.HeaderTotalPages, strconv.Itoa(p*7)) }}},
		{name: "total pages lying upward is cut short", wantErr: onceapi.ErrIncomplete,
			api: &fakeAPI{total: 25, headers: func(h http.Header, _ int) { h.Set(onceapi.HeaderTotalPages, "9") }}},
		{name: "endless full pages hit the page bound", wantErr: onceapi.ErrIncomplete, maxPages: 6,
			cfg: func(c *onceapi.Config) { c.MaxPages = 5 },
			api: &fakeAPI{total: 1 << 30, headers: func(h http.Header, _ int) { h.Del(onceapi.HeaderTotalPages) }}},
		{name: "500 then success is retried", want: 30,
			api: &fakeAPI{total: 30, hook: func(w http.ResponseWriter, page int, call int32) bool {
				if call == 2 {
					w.WriteHeader(500)
					return true
				}
				return false
			}}},
		{name: "429 with retry-after is honoured", want: 30,
			api: &fakeAPI{total: 30, hook: func(w http.ResponseWriter, page int, call int32) bool {
				if call == 1 {
					w.Header().Set("Retry-After", "0")
					w.WriteHeader(429)
					return true
				}
				return false
			}}},
		{name: "persistent 500 fails", anyErr: true,
			api: &fakeAPI{total: 30, hook: func(w http.ResponseWriter, page int, _ int32) bool {
				if page == 2 {
					w.WriteHeader(503)
					return true
				}
				return false
			}}},
		{name: "invalid json fails", anyErr: true,
			api: &fakeAPI{total: 30, hook: func(w http.ResponseWriter, page int, _ int32) bool {
				_, _ = w.Write([]byte(`[{"iccid":`))
				return true
			}}},
		{name: "404 is permanent", anyErr: true, maxPages: 1,
			api: &fakeAPI{total: 30, hook: func(w http.ResponseWriter, _ int, _ int32) bool {
				w.WriteHeader(404)
				return true
			}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newClient(t, tc.api, tc.cfg)
			got, err := listAll(c)
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
			case tc.anyErr:
				if err == nil {
					t.Fatal("want an error")
				}
			default:
				if err != nil || got != tc.want {
					t.Fatalf("got %d SIMs, err %v; want %d", got, err, tc.want)
				}
			}
			if tc.maxPages > 0 && tc.api.pages.Load() > tc.maxPages {
				t.Errorf("made %d page requests, want at most %d", tc.api.pages.Load(), tc.maxPages)
			}
		})
	}
}

func TestTokenCachedAndRefreshedOn401(t *testing.T) {
	t.Parallel()
	api := &fakeAPI{total: 30}
	c := newClient(t, api, nil)
	if _, err := listAll(c); err != nil {
		t.Fatal(err)
	}
	if api.tokens.Load() != 1 {
		t.Fatalf("want one token for a whole listing, got %d", api.tokens.Load())
	}
	api.rejectTok.Store(true)
	if n, err := listAll(c); err != nil || n != 30 {
		t.Fatalf("after 401: %d, %v", n, err)
	}
	if api.tokens.Load() != 2 {
		t.Fatalf("want a new token after 401, got %d tokens", api.tokens.Load())
	}
}

func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	t.Parallel()
	api := &fakeAPI{total: 5, ttl: 1}
	c := newClient(t, api, nil)
	_, _ = listAll(c)
	time.Sleep(1100 * time.Millisecond)
	_, _ = listAll(c)
	if api.tokens.Load() != 2 {
		t.Fatalf("want a fresh token after expiry, got %d", api.tokens.Load())
	}
}

func TestBadCredentialsNameTheUserNotThePassword(t *testing.T) {
	t.Parallel()
	api := &fakeAPI{total: 5}
	c := newClient(t, api, func(c *onceapi.Config) { c.Password = "wrong-secret" })
	_, err := listAll(c)
	if !errors.Is(err, onceapi.ErrBadCredentials) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "u@example.com") || strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("error must name the user and hide the password: %v", err)
	}
	if api.tokens.Load() != 0 {
		t.Fatal("bad credentials must not be retried into a token")
	}
}

func TestContextCancelStopsRetries(t *testing.T) {
	t.Parallel()
	api := &fakeAPI{total: 30, hook: func(w http.ResponseWriter, _ int, _ int32) bool { w.WriteHeader(500); return true }}
	c := newClient(t, api, func(c *onceapi.Config) { c.MaxTries = 100; c.MaxElapsed = time.Hour })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.ListSIMs(ctx, func([]onceapi.SIM) error { return nil })
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("cancelled listing returned %v after %v", err, time.Since(start))
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]onceapi.Config{
		"bad url":     {BaseURL: "ftp://x", Username: "u", Password: "p"},
		"no user":     {BaseURL: "http://x", Password: "p"},
		"page size":   {BaseURL: "http://x", Username: "u", Password: "p", PageSize: 101},
		"no password": {BaseURL: "http://x", Username: "u"},
	} {
		if _, err := onceapi.New(cfg); err == nil {
			t.Errorf("%s: want error", name)
		}
	}
}

// recorder is an Observer that keeps what it saw.
type recorder struct {
	mu       sync.Mutex
	requests map[string]int
	retries  map[string]int
}

func newRecorder() *recorder {
	return &recorder{requests: map[string]int{}, retries: map[string]int{}}
}

func (r *recorder) Request(endpoint, status string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests[endpoint+" "+status]++
}

func (r *recorder) Retry(endpoint, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.retries[endpoint+" "+reason]++
}

// answerOnce makes the first request get status with headers and body; K is
// what the fake's hook is told of the request (a page number or an ICCID).
func answerOnce[K any](status int, header map[string]string, body string) func(http.ResponseWriter, K, int32) bool {
	return func(w http.ResponseWriter, _ K, call int32) bool {
		if call != 1 {
			return false
		}
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
		return true
	}
}

func TestFaultsAreRetriedAndCounted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		api         *fakeAPI
		wantErr     error
		wantRetry   string
		wantRequest string
	}{
		{name: "429 without Retry-After backs off and succeeds", wantRetry: "sims 429", wantRequest: "sims 429",
			api: &fakeAPI{total: 30, hook: answerOnce[int](429, nil, "slow down")}},
		{name: "429 with Retry-After seconds", wantRetry: "sims 429", wantRequest: "sims 429",
			api: &fakeAPI{total: 30, hook: answerOnce[int](429, map[string]string{"Retry-After": "0"}, "")}},
		{name: "429 with Retry-After date", wantRetry: "sims 429", wantRequest: "sims 429",
			api: &fakeAPI{total: 30, hook: answerOnce[int](429, map[string]string{"Retry-After": time.Now().UTC().Format(http.TimeFormat)}, "")}},
		{name: "502 once is retried", wantRetry: "sims 502", wantRequest: "sims 502",
			api: &fakeAPI{total: 30, hook: answerOnce[int](502, nil, "bad gateway")}},
		{name: "invalid JSON once is retried", wantRetry: "sims invalid_json", wantRequest: "sims invalid_json",
			api: &fakeAPI{total: 30, hook: answerOnce[int](200, nil, `[{"iccid":`)}},
		{name: "401 once refreshes the token", wantRetry: "sims 401", wantRequest: "sims 401",
			api: &fakeAPI{total: 30, hook: answerOnce[int](401, nil, "")}},
		{name: "invalid JSON on every try fails the listing", wantErr: onceapi.ErrInvalidResponse, wantRequest: "sims invalid_json",
			api: &fakeAPI{total: 30, hook: func(w http.ResponseWriter, _ int, _ int32) bool { _, _ = w.Write([]byte(`{"sims":[]}`)); return true }}},
		{name: "null body fails the listing", wantErr: onceapi.ErrInvalidResponse,
			api: &fakeAPI{total: 30, hook: func(w http.ResponseWriter, _ int, _ int32) bool { _, _ = w.Write([]byte(`null`)); return true }}},
		{name: "garbage after the array fails the listing", wantErr: onceapi.ErrInvalidResponse,
			api: &fakeAPI{total: 30, hook: func(w http.ResponseWriter, _ int, _ int32) bool { _, _ = w.Write([]byte(`[] []`)); return true }}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			obs := newRecorder()
			c := newClient(t, tc.api, func(c *onceapi.Config) { c.Observer = obs })
			n, err := listAll(c)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
			} else if err != nil || n != 30 {
				t.Fatalf("got %d SIMs, %v; want all 30", n, err)
			}
			obs.mu.Lock()
			defer obs.mu.Unlock()
			if tc.wantRetry != "" && obs.retries[tc.wantRetry] == 0 {
				t.Errorf("retries %v lack %q", obs.retries, tc.wantRetry)
			}
			if tc.wantRequest != "" && obs.requests[tc.wantRequest] == 0 {
				t.Errorf("requests %v lack %q", obs.requests, tc.wantRequest)
			}
		})
	}
}

func TestRepeated401StopsAfterOneRefresh(t *testing.T) {
	t.Parallel()
	api := &fakeAPI{total: 30, rejectAll: true}
	c := newClient(t, api, func(c *onceapi.Config) { c.MaxTries = 10 })
	_, err := listAll(c)
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "u@example.com") {
		t.Fatalf("err = %v, want a 401 error naming the user", err)
	}
	if got := api.tokens.Load(); got != 2 {
		t.Fatalf("fetched %d tokens, want the first and one refresh", got)
	}
}

func TestLongRetryAfterEndsWithinMaxElapsed(t *testing.T) {
	t.Parallel()
	api := &fakeAPI{total: 30, hook: answerOnce[int](429, map[string]string{"Retry-After": "3600"}, "")}
	c := newClient(t, api, func(c *onceapi.Config) { c.MaxElapsed = time.Second })
	start := time.Now()
	_, err := listAll(c)
	if err == nil || !strings.Contains(err.Error(), "429") {
		t.Fatalf("err = %v, want the 429 it gave up on", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("waited %v for a Retry-After beyond MaxElapsed", time.Since(start))
	}
}
