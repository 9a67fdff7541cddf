package oncesim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/testkit/oncesim"
)

const (
	testUser     = "demo@example.com"
	testPassword = "s3cret"
)

// testSim is a running simulator with helpers to call it.
type testSim struct {
	srv   *oncesim.Server
	hs    *httptest.Server
	api   string // root URL + base path
	admin *oncesim.AdminClient
}

// startSim runs a simulator with count generated SIMs and no rate limit; edit adjusts the options.
func startSim(t *testing.T, count int, edit func(*oncesim.Options)) *testSim {
	t.Helper()
	sims, err := oncesim.Generate(count, "8988280666000", "10.0.x.x", 1)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	opts := oncesim.DefaultOptions(testUser, testPassword)
	opts.RateLimit = 0
	opts.SIMs = sims
	if edit != nil {
		edit(&opts)
	}
	srv, err := oncesim.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &testSim{srv: srv, hs: hs, api: hs.URL + srv.BasePath(), admin: oncesim.NewAdminClient(hs.URL, hs.Client())}
}

// response is a fully read answer.
type response struct {
	status int
	header http.Header
	body   string
	err    error // transport or body read error
}

// do sends a request and reads the whole answer; transport errors land in response.err.
func (s *testSim) do(t *testing.T, method, url string, header map[string]string, body string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := s.hs.Client().Do(req)
	if err != nil {
		return response{err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(data), err: err}
}

// tokenRequest asks for a token with the given credentials and body.
func (s *testSim) tokenRequest(t *testing.T, user, password, body string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.api+"/oauth/token", strings.NewReader(body))
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	if user != "" || password != "" {
		req.SetBasicAuth(user, password)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.hs.Client().Do(req)
	if err != nil {
		return response{err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(data), err: err}
}

// token fetches a valid token or fails the test.
func (s *testSim) token(t *testing.T) string {
	t.Helper()
	r := s.tokenRequest(t, testUser, testPassword, `{"grant_type":"client_credentials"}`)
	if r.status != http.StatusOK {
		t.Fatalf("token: status %d body %s err %v", r.status, r.body, r.err)
	}
	var tok onceapi.Token
	mustJSON(t, r.body, &tok)
	return tok.AccessToken
}

// sims lists one page with token; query is e.g. "page=2&pageSize=10".
func (s *testSim) sims(t *testing.T, token, query string) response {
	t.Helper()
	return s.do(t, http.MethodGet, s.api+"/v1/sims?"+query, map[string]string{"Authorization": "Bearer " + token}, "")
}

// mustJSON decodes body into v or fails the test.
func mustJSON(t *testing.T, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
}
