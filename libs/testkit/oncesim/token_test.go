package oncesim_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/testkit/oncesim"
)

func TestToken(t *testing.T) {
	t.Parallel()
	sim := startSim(t, 1, nil)
	goodBody := `{"grant_type":"client_credentials"}`
	tests := []struct {
		name       string
		user, pass string
		body       string
		wantStatus int
		wantInBody string
	}{
		{name: "good", user: testUser, pass: testPassword, body: goodBody, wantStatus: 200, wantInBody: `"token_type":"bearer"`},
		{name: "wrong password", user: testUser, pass: "nope", body: goodBody, wantStatus: 400, wantInBody: `"error":"BadCredentials","message":"User does not exist."`},
		{name: "wrong user", user: "x@example.com", pass: testPassword, body: goodBody, wantStatus: 400, wantInBody: "BadCredentials"},
		{name: "missing credentials", body: goodBody, wantStatus: 400, wantInBody: "BadCredentials"},
		{name: "wrong grant", user: testUser, pass: testPassword, body: `{"grant_type":"password"}`, wantStatus: 400, wantInBody: "client_credentials"},
		{name: "bad JSON", user: testUser, pass: testPassword, body: `{"grant_type":`, wantStatus: 400, wantInBody: "invalid JSON"},
		{name: "empty body", user: testUser, pass: testPassword, body: ``, wantStatus: 400, wantInBody: "invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := sim.tokenRequest(t, tt.user, tt.pass, tt.body)
			if r.status != tt.wantStatus || !strings.Contains(r.body, tt.wantInBody) {
				t.Fatalf("got %d %s, want %d containing %s", r.status, r.body, tt.wantStatus, tt.wantInBody)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
}

func TestTokenFields(t *testing.T) {
	t.Parallel()
	sim := startSim(t, 1, func(o *oncesim.Options) { o.TokenTTL = 90 * time.Minute })
	r := sim.tokenRequest(t, testUser, testPassword, `{"grant_type":"client_credentials"}`)
	var tok onceapi.Token
	mustJSON(t, r.body, &tok)
	want := onceapi.Token{StatusCode: 200, AccessToken: tok.AccessToken, TokenType: "bearer", ExpiresIn: 5400, UserID: testUser, Scope: "all"}
	if tok != want || len(tok.AccessToken) < 32 {
		t.Fatalf("token = %+v, want %+v with a long random access_token", tok, want)
	}
	if other := sim.token(t); other == tok.AccessToken {
		t.Fatal("two tokens are equal")
	}
}

func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		ttl    time.Duration
		expire func(t *testing.T, sim *testSim)
	}{
		{name: "short TTL", ttl: 20 * time.Millisecond, expire: func(*testing.T, *testSim) { time.Sleep(60 * time.Millisecond) }},
		{name: "admin expire", ttl: time.Hour, expire: func(t *testing.T, sim *testSim) {
			n, err := sim.admin.ExpireTokens(t.Context())
			if err != nil || n != 1 {
				t.Fatalf("ExpireTokens = %d, %v; want 1, nil", n, err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sim := startSim(t, 3, func(o *oncesim.Options) { o.TokenTTL = tt.ttl })
			tok := sim.token(t)
			if r := sim.sims(t, tok, ""); r.status != http.StatusOK {
				t.Fatalf("fresh token: status %d %s", r.status, r.body)
			}
			tt.expire(t, sim)
			if r := sim.sims(t, tok, ""); r.status != http.StatusUnauthorized {
				t.Fatalf("expired token: status %d %s, want 401", r.status, r.body)
			}
			if r := sim.sims(t, sim.token(t), ""); r.status != http.StatusOK {
				t.Fatalf("new token: status %d %s", r.status, r.body)
			}
		})
	}
}

func TestSIMsNeedToken(t *testing.T) {
	t.Parallel()
	sim := startSim(t, 1, nil)
	tests := []struct {
		name   string
		header map[string]string
	}{
		{name: "no header"},
		{name: "unknown token", header: map[string]string{"Authorization": "Bearer nope"}},
		{name: "basic scheme", header: map[string]string{"Authorization": "Basic " + sim.token(t)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := sim.do(t, http.MethodGet, sim.api+"/v1/sims", tt.header, "")
			if r.status != http.StatusUnauthorized {
				t.Fatalf("status %d %s, want 401", r.status, r.body)
			}
		})
	}
}
