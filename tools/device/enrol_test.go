package device_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/simbridge/simbridge/tools/device"
)

// A device sends the same request again after each 202 until it gets its
// certificate; a refusal ends it at once with the answer's Retry-After.
func TestEnrolUntil(t *testing.T) {
	t.Parallel()
	key, err := device.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	csr, err := device.NewCSR(key)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := pem.Decode(csr); b == nil || b.Type != "CERTIFICATE REQUEST" {
		t.Fatalf("request is not a PEM CSR: %s", csr)
	} else if req, err := x509.ParseCertificateRequest(b.Bytes); err != nil || req.CheckSignature() != nil {
		t.Fatalf("request does not verify: %v", err)
	}
	var calls atomic.Int32
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		switch calls.Add(1) {
		case 1, 2:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusAccepted)
		default:
			fmt.Fprint(w, `{"certificate":"CERT","certificateId":"abc","iccid":"8988280666000000001","iotCoreEndpointUrl":"ep"}`)
		}
	}))
	t.Cleanup(srv.Close)
	c, _ := device.New(srv.URL, "", 5*time.Second)
	e, err := c.EnrolUntil(context.Background(), srv.URL, csr, 10*time.Second)
	if err != nil || e.CertificateID != "abc" || calls.Load() != 3 || bodies[0] != string(csr) || bodies[2] != string(csr) {
		t.Fatalf("got %+v after %d calls (%v)", e, calls.Load(), err)
	}

	limited := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "600")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"message":"This SIM enrolled too often: try again later"}`)
	}))
	t.Cleanup(limited.Close)
	_, err = c.EnrolUntil(context.Background(), limited.URL, csr, 10*time.Second)
	var se *device.StatusError
	if !errors.As(err, &se) || se.Code != 429 || se.RetryAfter != 10*time.Minute {
		t.Fatalf("rate limited: %v", err)
	}
}
