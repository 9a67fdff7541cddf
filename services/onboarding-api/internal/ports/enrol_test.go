package ports_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/config"
	"github.com/simbridge/simbridge/libs/iotca"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/services/onboarding-api/internal/app"
	"github.com/simbridge/simbridge/services/onboarding-api/internal/ports"
)

// enroller answers every request with err or the certificate, and keeps
// what it was asked.
type enroller struct {
	err error
	// hold makes Enrol wait until the request ends (a device that gives up).
	hold bool
	mu   sync.Mutex
	ip   netip.Addr
	body string
}

func (e *enroller) Enrol(ctx context.Context, ip netip.Addr, body []byte) (app.Certificate, error) {
	e.mu.Lock()
	e.ip, e.body = ip, string(body)
	e.mu.Unlock()
	if e.hold {
		<-ctx.Done()
		return app.Certificate{}, ctx.Err()
	}
	if e.err != nil {
		return app.Certificate{}, e.err
	}
	return app.Certificate{ICCID: iccidActive, CertificatePEM: "-----BEGIN CERTIFICATE-----\r\nMIIB\r\n-----END CERTIFICATE-----\n",
		CertificateID: "abc", IoTEndpoint: endpoint, RootCAURL: app.AmazonRootCAURL, RootCAPEM: "ROOT\nCA\n", Issued: true}, nil
}

type results struct {
	mu  sync.Mutex
	got []string
}

func (r *results) ObserveEnrolment(result string) {
	r.mu.Lock()
	r.got = append(r.got, result)
	r.mu.Unlock()
}

func enrolServer(t *testing.T, e *enroller, seen *results) string {
	t.Helper()
	h := ports.NewHTTP(app.New(simstore.NewMemory(), sealer{}, endpoint, "ROOT"), ports.Options{
		Paths: []string{"/device-api/onboarding"}, DeviceIPHeader: "onboarding-ip", APIKeyHeader: "x-api-key",
		APIKeys: &keyRing{keys: []config.Secret{currentKey}}, Logger: slog.New(slog.DiscardHandler),
		CertificatePaths: []string{"/device-api/certificate", "/certificate"}, Enroller: e, CSRMaxBytes: 4096, Enrolments: seen,
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func post(t *testing.T, url, body string, header map[string]string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("onboarding-ip", ipActive)
	req.Header.Set("x-api-key", currentKey)
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// Every outcome of an enrolment has its status code, its message, a
// Retry-After where the device must come back, and its result counted.
func TestEnrolmentAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		header     map[string]string
		body       string
		code       int
		says       string
		retryAfter string
		result     string
	}{
		{name: "a certificate in JSON, no private key", code: 200, result: "issued",
			says: `{"amazonRootCaUrl":"https://www.amazontrust.com/repository/AmazonRootCA1.pem","certificate":"-----BEGIN CERTIFICATE-----\r\nMIIB\r\n-----END CERTIFICATE-----\n","certificateId":"abc","iccid":"8988280666000000001","iotCoreEndpointUrl":"test-ats.iot.eu-central-1.amazonaws.com"}`},
		{name: "a certificate in the reference's CSV form", header: map[string]string{"Accept": "text/csv"}, code: 200, result: "issued",
			says: `"8988280666000000001","test-ats.iot.eu-central-1.amazonaws.com","https://www.amazontrust.com/repository/AmazonRootCA1.pem","ROOT\nCA\n","-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"`},
		{name: "garbage", err: fmt.Errorf("%w: x", iotca.ErrCSRMalformed), code: 400, says: "not a PKCS#10", result: "bad_request"},
		{name: "no proof of possession", err: fmt.Errorf("%w: x", iotca.ErrCSRSignature), code: 400, says: "proof of possession", result: "bad_request"},
		{name: "a weak key", err: fmt.Errorf("%w (got RSA of 1024 bits)", iotca.ErrCSRKey), code: 400, says: "RSA of 1024 bits", result: "bad_request"},
		{name: "no SIM", err: app.ErrNoCredentials, code: 404, says: "No onboarding data", result: "not_found"},
		{name: "key mode server", err: app.ErrEnrolmentOff, code: 403, says: "Enrolment is off", result: "key_mode"},
		{name: "a retired key", err: simrec.ErrKeyRetired, code: 409, says: "generate a new key", result: "key_retired"},
		{name: "rate limited", err: &app.RetryLater{After: 90*time.Second + time.Millisecond}, code: 429, says: "too often", retryAfter: "91", result: "rate_limited"},
		{name: "still being made", err: &app.RetryLater{After: 5 * time.Second, Pending: true}, code: 202, says: "send the same request again", retryAfter: "5", result: "pending"},
		{name: "the provisioner refused", err: app.ErrRefused, code: 500, says: "Unexpected error occurred", result: "error"},
		{name: "oversized", body: strings.Repeat("A", 4097), code: 413, says: "Too Large", result: "bad_request"},
		{name: "no API key", header: map[string]string{"x-api-key": ""}, code: 401, says: "Unauthorized"},
		{name: "a bad device IP", header: map[string]string{"onboarding-ip": "2001:db8::1"}, code: 400, says: "device IP"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, seen := &enroller{err: tc.err}, &results{}
			url := enrolServer(t, e, seen)
			body := tc.body
			if body == "" {
				body = "csr"
			}
			code, hdr, got := post(t, url+"/device-api/certificate", body, tc.header)
			if code != tc.code || !strings.Contains(got, tc.says) {
				t.Fatalf("%d %s, want %d saying %q", code, got, tc.code, tc.says)
			}
			if hdr.Get("Retry-After") != tc.retryAfter {
				t.Errorf("Retry-After %q, want %q", hdr.Get("Retry-After"), tc.retryAfter)
			}
			if strings.Contains(got, "PRIVATE KEY") || strings.Contains(got, "privateKey") {
				t.Error("an enrolment answer carries a private key")
			}
			if code == 200 && hdr.Get("Cache-Control") != "no-store" {
				t.Error("the answer may be cached")
			}
			if tc.result != "" && (len(seen.got) != 1 || seen.got[0] != tc.result) {
				t.Errorf("results %v, want %s", seen.got, tc.result)
			}
			if code == 200 && (e.body != body || e.ip.String() != ipActive) {
				t.Errorf("the use case got %q from %s", e.body, e.ip)
			}
			if code == 200 && !strings.Contains(hdr.Get("Content-Type"), map[bool]string{true: "text/csv", false: "application/json"}[tc.header["Accept"] == "text/csv"]) {
				t.Errorf("content type %s", hdr.Get("Content-Type"))
			}
		})
	}
}

func TestEnrolmentRoutes(t *testing.T) {
	t.Parallel()
	url := enrolServer(t, &enroller{}, &results{})
	if code, _, _ := post(t, url+"/certificate", "csr", nil); code != 200 {
		t.Errorf("alias: %d", code)
	}
	req, _ := http.NewRequest(http.MethodGet, url+"/device-api/certificate", nil)
	req.Header.Set("x-api-key", currentKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET of the enrolment path: %d", resp.StatusCode)
	}
	if code, _, _ := post(t, url+"/device-api/onboarding", "csr", nil); code != http.StatusMethodNotAllowed {
		t.Errorf("POST to the onboarding path: %d", code)
	}
}

// GET for a SIM whose device holds its key: 404 with a reason the
// firmware can log, naming where to enrol.
func TestOnboardingOfADeviceKeySIM(t *testing.T) {
	t.Parallel()
	store := simstore.NewMemory()
	rec := simrec.Record{ICCID: iccidActive, IP: ipActive, KeyMode: simrec.KeyModeDevice}
	rec.SetState(simrec.StateActive)
	if _, err := store.Create(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	h := ports.NewHTTP(app.New(store, sealer{}, endpoint, "ROOT"), ports.Options{
		Paths: []string{"/device-api/onboarding"}, DeviceIPHeader: "onboarding-ip", APIKeyHeader: "x-api-key",
		APIKeys: &keyRing{keys: []config.Secret{currentKey}}, Logger: slog.New(slog.DiscardHandler),
		CertificatePaths: []string{"/v2/certificate"}, Enroller: &enroller{}, CSRMaxBytes: 4096,
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/device-api/onboarding", nil)
	req.Header.Set("x-api-key", currentKey)
	req.Header.Set("onboarding-ip", ipActive)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var msg struct{ Message string }
	if err := json.NewDecoder(resp.Body).Decode(&msg); err != nil || resp.StatusCode != 404 ||
		!strings.Contains(msg.Message, "made on the device") || !strings.Contains(msg.Message, "POST a certificate signing request to /v2/certificate") {
		t.Fatalf("%d %q (%v)", resp.StatusCode, msg.Message, err)
	}
}

// A device that gives up while its enrolment is made is not a server
// error: counted as device_gone, no 500, no error logged.
func TestDeviceGoneIsNoServerError(t *testing.T) {
	t.Parallel()
	seen := &results{}
	url := enrolServer(t, &enroller{hold: true}, seen)
	c := &http.Client{Timeout: 200 * time.Millisecond}
	req, _ := http.NewRequest(http.MethodPost, url+"/device-api/certificate", strings.NewReader("csr"))
	req.Header.Set("onboarding-ip", ipActive)
	req.Header.Set("x-api-key", currentKey)
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("answered %d while the enrolment was held", resp.StatusCode)
	}
	testkit.Eventually(t, 5*time.Second, "the result counted", func() error {
		seen.mu.Lock()
		defer seen.mu.Unlock()
		if len(seen.got) != 1 || seen.got[0] != "device_gone" {
			return fmt.Errorf("results %v", seen.got)
		}
		return nil
	})
}
