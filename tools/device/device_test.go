package device_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/simbridge/simbridge/tools/device"
)

func selfSigned(t *testing.T) (string, string) {
	t.Helper()
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "d"}, NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	k := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	return string(cert), string(k)
}

func TestVerify(t *testing.T) {
	t.Parallel()
	cert, key := selfSigned(t)
	_, otherKey := selfSigned(t)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	ecPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}))
	tests := []struct {
		name, cert, key string
		ok              bool
	}{
		{"matching pair", cert, key, true},
		{"other key", cert, otherKey, false},
		{"other key type", cert, ecPEM, false},
		{"garbage cert", "nope", key, false},
		{"garbage key", cert, "nope", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id, err := device.Verify(tc.cert, tc.key)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v", err)
			}
			if tc.ok && len(id) != 64 {
				t.Fatalf("certificate id %q is not a SHA-256 hex", id)
			}
		})
	}
}

func TestFetchBindsSourceIP(t *testing.T) {
	t.Parallel()
	var peer string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, _, _ = net.SplitHostPort(r.RemoteAddr)
		if r.Header.Get("X-Test") == "404" {
			w.WriteHeader(404)
			_, _ = w.Write([]byte(`{"message":"nope"}`))
			return
		}
		_ = json.NewEncoder(w).Encode(device.Credentials{ICCID: "8988280666000000001"})
	}))
	defer srv.Close()
	c, err := device.New(srv.URL, "127.0.0.7", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Fetch(context.Background(), nil)
	if err != nil || got.ICCID != "8988280666000000001" || peer != "127.0.0.7" {
		t.Fatalf("got %+v from peer %s: %v", got, peer, err)
	}
	_, err = c.Fetch(context.Background(), http.Header{"X-Test": {"404"}})
	var se *device.StatusError
	if !errors.As(err, &se) || se.Code != 404 {
		t.Fatalf("want StatusError 404, got %v", err)
	}
	if _, err := device.New(srv.URL, "not-an-ip", time.Second); err == nil {
		t.Fatal("bad source IP accepted")
	}
}
