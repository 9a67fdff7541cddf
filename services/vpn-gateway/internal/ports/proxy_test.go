package ports_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simbridge/simbridge/services/vpn-gateway/internal/ports"
)

const gatewayKey = "the-gateway-key"

// upstream records what onboarding-api would receive.
type upstream struct {
	mu      sync.Mutex
	headers []http.Header
	// requests are "METHOD path body-length:body" as received.
	requests []string
	block    chan struct{}
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.headers = append(u.headers, r.Header.Clone())
	u.requests = append(u.requests, fmt.Sprintf("%s %s %d:%s", r.Method, r.URL.Path, r.ContentLength, body))
	u.mu.Unlock()
	if u.block != nil {
		<-u.block
	}
	w.Header().Set("X-Request-Id", r.Header.Get("X-Request-Id"))
	_ = json.NewEncoder(w).Encode(map[string]string{"ip": r.Header.Get("onboarding-ip")})
}

func (u *upstream) last() http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.headers[len(u.headers)-1]
}

func defaultGuard() ports.GuardOptions {
	return ports.GuardOptions{RatePerIP: 1000, BurstPerIP: 1000, MaxConcurrent: 100, MaxBodyBytes: 1024, MaxHeaderBytes: 8192, MaxCSRBytes: 4096}
}

// observed records what the proxy reports: the status of every answer and
// the reason of every refusal (the service's metrics count exactly these).
type observed struct {
	mu       sync.Mutex
	codes    []int
	rejected []string
}

func (o *observed) ObserveRequest(code int, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.codes = append(o.codes, code)
}

func (o *observed) Rejected(reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rejected = append(o.rejected, reason)
}

// newGateway runs the proxy in front of a recording upstream.
func newGateway(t *testing.T, guard ports.GuardOptions, up *upstream) string {
	t.Helper()
	url, _ := newObservedGateway(t, guard, up)
	return url
}

// newObservedGateway is newGateway that also returns what the proxy reported.
func newObservedGateway(t *testing.T, guard ports.GuardOptions, up *upstream) (string, *observed) {
	t.Helper()
	obs := &observed{}
	us := httptest.NewServer(up)
	t.Cleanup(us.Close)
	u, _ := url.Parse(us.URL)
	h := ports.NewProxy(ports.ProxyOptions{
		Upstream: u, Paths: []string{"/device-api/onboarding", "/onboarding"}, CertificatePaths: []string{"/device-api/certificate"}, DeviceIPHeader: "onboarding-ip",
		APIKeyHeader: "x-api-key", APIKey: func() string { return gatewayKey }, UpstreamTimeout: 5 * time.Second,
		Guard: guard, Observer: obs, Logger: slog.New(slog.DiscardHandler),
	})
	gw := httptest.NewServer(h)
	t.Cleanup(gw.Close)
	return gw.URL, obs
}

// from returns a client whose connections leave from the loopback address ip,
// the way a device's requests arrive from its SIM IP.
func from(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}, Timeout: 10 * time.Second}
}

func call(t *testing.T, c *http.Client, method, url string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for k, v := range header {
		req.Header[k] = []string{v} // as sent, not canonicalised
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestDeviceIdentityComesFromTheSocket(t *testing.T) {
	t.Parallel()
	up := &upstream{}
	gw := newGateway(t, defaultGuard(), up)
	tests := []struct {
		name   string
		header map[string]string
	}{
		{"nothing spoofed", nil},
		{"X-Forwarded-For", map[string]string{"X-Forwarded-For": "10.0.0.9"}},
		{"Forwarded", map[string]string{"Forwarded": "for=10.0.0.9"}},
		{"X-Real-IP", map[string]string{"X-Real-IP": "10.0.0.9"}},
		{"onboarding-ip", map[string]string{"onboarding-ip": "10.0.0.9"}},
		{"Onboarding-IP capitalised", map[string]string{"ONBOARDING-IP": "10.0.0.9"}},
		{"onboarding_ip with underscore", map[string]string{"onboarding_ip": "10.0.0.9"}},
		{"True-Client-IP", map[string]string{"True-Client-IP": "10.0.0.9"}},
		{"hop-by-hop trick", map[string]string{"Connection": "onboarding-ip", "onboarding-ip": "10.0.0.9"}},
		{"all at once", map[string]string{"X-Forwarded-For": "10.0.0.9", "X-Real-Ip": "10.0.0.9", "Forwarded": "for=10.0.0.9", "Onboarding-Ip": "10.0.0.9"}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			device := "127.0.0." + string(rune('2'+i%8))
			resp, body := call(t, from(device), http.MethodGet, gw+"/device-api/onboarding", tc.header)
			if resp.StatusCode != 200 || !strings.Contains(body, `"ip":"`+device+`"`) {
				t.Fatalf("got %d %s, want the socket's %s", resp.StatusCode, body, device)
			}
		})
	}
	// Run sequentially above: check the upstream saw no spoofable header at all.
	for _, h := range up.headers {
		for name := range h {
			switch strings.ToLower(name) {
			case "x-forwarded-for", "forwarded", "x-real-ip", "true-client-ip", "onboarding_ip":
				t.Errorf("upstream received %s: %v", name, h[name])
			}
		}
		if got := h.Values("onboarding-ip"); len(got) != 1 {
			t.Errorf("upstream received onboarding-ip %v, want exactly one", got)
		}
	}
}

func TestDeviceKeysNeverReachUpstream(t *testing.T) {
	t.Parallel()
	up := &upstream{}
	gw := newGateway(t, defaultGuard(), up)
	tests := []struct {
		name, header string
	}{
		{"x-api-key", "x-api-key"},
		{"X-API-KEY", "X-API-KEY"},
		{"api_key", "api_key"},
		{"Apikey", "Apikey"},
		{"X-Custom-Api-Key", "X-Custom-Api-Key"},
		{"Authorization", "Authorization"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := call(t, from("127.0.0.2"), http.MethodGet, gw+"/device-api/onboarding", map[string]string{tc.header: "device-guess"})
			h := up.last()
			if resp.StatusCode != 200 || h.Get("x-api-key") != gatewayKey {
				t.Fatalf("got %d, upstream key %q", resp.StatusCode, h.Get("x-api-key"))
			}
			for name, vs := range h {
				for _, v := range vs {
					if v == "device-guess" {
						t.Errorf("device value reached upstream in %s", name)
					}
				}
			}
		})
	}
}

func TestOnlyOnboardingPathsAndGET(t *testing.T) {
	t.Parallel()
	gw := newGateway(t, defaultGuard(), &upstream{})
	tests := []struct {
		name, method, path string
		want               int
	}{
		{"canonical path", http.MethodGet, "/device-api/onboarding", 200},
		{"alias", http.MethodGet, "/onboarding", 200},
		{"root", http.MethodGet, "/", 404},
		{"prefix", http.MethodGet, "/device-api/onboardingX", 404},
		{"sub path", http.MethodGet, "/device-api/onboarding/x", 404},
		{"dot segments", http.MethodGet, "/device-api/x/../onboarding/..", 404},
		{"metrics", http.MethodGet, "/metrics", 404},
		{"POST", http.MethodPost, "/device-api/onboarding", 405},
		{"PUT", http.MethodPut, "/device-api/onboarding", 405},
		{"DELETE", http.MethodDelete, "/device-api/onboarding", 405},
		{"HEAD", http.MethodHead, "/device-api/onboarding", 405},
		{"OPTIONS", http.MethodOptions, "/device-api/onboarding", 405},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, _ := call(t, from("127.0.0.3"), tc.method, gw+tc.path, nil)
			if resp.StatusCode != tc.want || resp.Header.Get("X-Request-Id") == "" {
				t.Fatalf("got %d (request id %q), want %d", resp.StatusCode, resp.Header.Get("X-Request-Id"), tc.want)
			}
			if tc.want == 405 && resp.Header.Get("Allow") != "GET" {
				t.Errorf("Allow %q", resp.Header.Get("Allow"))
			}
		})
	}
}

func TestRequestIDTravelsUpstreamOnce(t *testing.T) {
	t.Parallel()
	up := &upstream{}
	gw := newGateway(t, defaultGuard(), up)
	resp, _ := call(t, from("127.0.0.2"), http.MethodGet, gw+"/device-api/onboarding", map[string]string{"X-Request-Id": "device-chosen"})
	ids := resp.Header.Values("X-Request-Id")
	if len(ids) != 1 || ids[0] == "device-chosen" || up.last().Get("X-Request-Id") != ids[0] {
		t.Fatalf("device saw %v, upstream saw %q", ids, up.last().Get("X-Request-Id"))
	}
}

// A 401 from onboarding-api (the key was rotated) makes the gateway re-read
// its key at once.
func TestRejectedKeyIsReportedForAReRead(t *testing.T) {
	t.Parallel()
	us := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(us.Close)
	u, _ := url.Parse(us.URL)
	rejected := make(chan struct{}, 1)
	h := ports.NewProxy(ports.ProxyOptions{
		Upstream: u, Paths: []string{"/device-api/onboarding"}, DeviceIPHeader: "onboarding-ip",
		APIKeyHeader: "x-api-key", APIKey: func() string { return gatewayKey }, UpstreamTimeout: 5 * time.Second,
		KeyRejected: func() { rejected <- struct{}{} },
		Guard:       defaultGuard(), Logger: slog.New(slog.DiscardHandler),
	})
	gw := httptest.NewServer(h)
	t.Cleanup(gw.Close)
	if resp, _ := call(t, from("127.0.0.9"), http.MethodGet, gw.URL+"/device-api/onboarding", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d", resp.StatusCode)
	}
	select {
	case <-rejected:
	case <-time.After(5 * time.Second):
		t.Fatal("a 401 from onboarding-api did not ask for a key re-read")
	}
}
