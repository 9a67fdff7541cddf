package ports_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestErrorAnswers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	notFound := `{"message":"No onboarding data found for this device"}`
	tests := []struct {
		name     string
		ip       string
		wantCode int
		wantBody string
	}{
		{"unknown IP", ipUnknown, 404, notFound},
		{"inactive SIM", ipInactive, 404, notFound},
		{"two SIMs claim the IP", ipTwoSIMs, 404, notFound},
		{"no credentials yet", ipNoCreds, 404, notFound},
		{"missing device IP", "", 400, `{"message":"Missing or invalid device IP"}`},
		{"invalid device IP", "10.0.0", 400, `{"message":"Missing or invalid device IP"}`},
		{"IPv6 device IP (no SIM has one)", "2001:db8::1", 400, `{"message":"Missing or invalid device IP"}`},
		{"device IP with a port", "10.0.0.1:4711", 400, `{"message":"Missing or invalid device IP"}`},
		{"unknown IP, IPv4-mapped", "::ffff:" + ipUnknown, 404, notFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := f.get(t, "/device-api/onboarding", tc.ip, nil)
			if r.code != tc.wantCode || strings.TrimSpace(r.body) != tc.wantBody || r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("got %d %q %s", r.code, r.header.Get("Content-Type"), r.body)
			}
		})
	}
	t.Run("unexpected error", func(t *testing.T) {
		t.Parallel()
		r := f.get(t, "/device-api/onboarding", ipBrokenKey, nil)
		id := r.header.Get("X-Request-Id")
		want := `{"message":"Unexpected error occurred","requestId":"` + id + `"}`
		if r.code != 500 || id == "" || strings.TrimSpace(r.body) != want {
			t.Fatalf("got %d %s, want %s", r.code, r.body, want)
		}
	})
}

// TestRequestIDAndLogs checks that every answer carries a request id, every
// log line names it, and no log line holds a key of any kind.
func TestRequestIDAndLogs(t *testing.T) {
	f := newFixture(t)
	calls := []struct {
		name, method, path, ip, key, requestID string
	}{
		{"served", http.MethodGet, "/device-api/onboarding", ipActive, currentKey, ""},
		{"not found", http.MethodGet, "/device-api/onboarding", ipUnknown, currentKey, ""},
		{"unauthorized", http.MethodGet, "/device-api/onboarding", ipActive, "wrong", ""},
		{"server error", http.MethodGet, "/device-api/onboarding", ipBrokenKey, currentKey, ""},
		{"unknown path", http.MethodGet, "/elsewhere", ipActive, currentKey, ""},
		{"wrong method", http.MethodPost, "/device-api/onboarding", ipActive, currentKey, ""},
		{"gateway's id kept", http.MethodGet, "/device-api/onboarding", ipActive, currentKey, "gw-4711"},
		{"forged id replaced", http.MethodGet, "/device-api/onboarding", ipActive, currentKey, "x\" injected=1"},
	}
	for _, c := range calls {
		r := f.do(t, c.method, c.path, map[string]string{"onboarding-ip": c.ip, "x-api-key": c.key}, map[string]string{"X-Request-Id": c.requestID})
		id := r.header.Get("X-Request-Id")
		switch {
		case id == "":
			t.Errorf("%s: no request id", c.name)
		case c.requestID == "gw-4711" && id != c.requestID:
			t.Errorf("%s: request id %q, want the gateway's", c.name, id)
		case strings.Contains(c.requestID, "injected") && strings.Contains(id, "injected"):
			t.Errorf("%s: forged request id kept", c.name)
		}
	}
	logs := f.logs.String()
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if id, _ := rec["request_id"].(string); id == "" {
			t.Errorf("log line without request id: %s", line)
		}
	}
	for _, secret := range []string{currentKey, previousKey, "PRIVATE KEY", "MII"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
	if n := strings.Count(logs, `"msg":"request"`); n != len(calls) {
		t.Errorf("%d access log lines for %d requests", n, len(calls))
	}
	want := []string{"200 json", "404 none", "401 none", "500 none", "404 none", "405 none", "200 json", "200 json"}
	if got := f.seen.all(); !slices.Equal(got, want) {
		t.Errorf("observer heard %v, want %v", got, want)
	}
}
