package ports_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// An enrolment is forwarded whole, with its body, the device IP from the
// socket and the gateway's key; nothing the device sends names another
// device.
func TestEnrolmentIsForwardedWithItsBody(t *testing.T) {
	t.Parallel()
	up := &upstream{}
	gw := newGateway(t, defaultGuard(), up)
	csr := "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n"
	req, _ := http.NewRequest(http.MethodPost, gw+"/device-api/certificate", strings.NewReader(csr))
	req.Header.Set("X-Forwarded-For", "10.0.0.9")
	req.Header.Set("onboarding-ip", "10.0.0.9")
	req.Header.Set("x-api-key", "device-guess")
	req.Header.Set("Content-Type", "application/pkcs10")
	resp, err := from("127.0.4.2").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("got %d", resp.StatusCode)
	}
	h := up.last()
	if h.Get("onboarding-ip") != "127.0.4.2" || h.Get("x-api-key") != gatewayKey || h.Get("X-Forwarded-For") != "" || h.Get("Content-Type") != "application/pkcs10" {
		t.Fatalf("upstream headers %v", h)
	}
	if want := fmt.Sprintf("POST /device-api/certificate %d:%s", len(csr), csr); up.requests[0] != want {
		t.Fatalf("upstream got %q, want %q", up.requests[0], want)
	}
}

// Each path takes its own method, and an enrolment's body its own limit
// (CSR_MAX_BYTES), however it is framed.
func TestEnrolmentMethodsAndBodyLimit(t *testing.T) {
	t.Parallel()
	gw := newGateway(t, defaultGuard(), &upstream{})
	chunked := func(sizes ...int) string {
		var b strings.Builder
		for _, n := range sizes {
			fmt.Fprintf(&b, "%x\r\n%s\r\n", n, strings.Repeat("x", n))
		}
		return b.String() + "0\r\n\r\n"
	}
	tests := []struct {
		name, request string
		want          int
	}{
		{"a CSR within the limit", "POST /device-api/certificate HTTP/1.1\r\nContent-Length: 2000\r\n\r\n" + strings.Repeat("x", 2000), 200},
		{"a CSR at the limit, chunked", "POST /device-api/certificate HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(4000, 96), 200},
		{"an oversized CSR", "POST /device-api/certificate HTTP/1.1\r\nContent-Length: 5000\r\n\r\n" + strings.Repeat("x", 5000), 413},
		{"an oversized CSR in chunks", "POST /device-api/certificate HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(3000, 3000), 413},
		{"GET of the enrolment path", "GET /device-api/certificate HTTP/1.1\r\n\r\n", 405},
		{"POST to the onboarding path", "POST /device-api/onboarding HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 405},
		{"a GET body keeps its own limit", "GET /device-api/onboarding HTTP/1.1\r\nContent-Length: 2000\r\n\r\n" + strings.Repeat("x", 2000), 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			line, rest, _ := strings.Cut(tc.request, "\r\n")
			req := line + "\r\nHost: gw\r\nConnection: close\r\n" + rest
			if got := rawStatus(t, gw, "127.0.4.3", req); got != tc.want {
				t.Fatalf("got %d, want %d", got, tc.want)
			}
		})
	}
	resp, _ := call(t, from("127.0.4.4"), http.MethodGet, gw+"/device-api/certificate", nil)
	if resp.Header.Get("Allow") != http.MethodPost {
		t.Errorf("Allow %q on the enrolment path", resp.Header.Get("Allow"))
	}
	req, _ := http.NewRequest(http.MethodPut, gw+"/device-api/onboarding", nil)
	r2, err := from("127.0.4.4").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != 405 || r2.Header.Get("Allow") != http.MethodGet {
		t.Errorf("PUT on the onboarding path: %d Allow %q", r2.StatusCode, r2.Header.Get("Allow"))
	}
}
