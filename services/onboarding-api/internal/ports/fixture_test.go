package ports_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/config"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/services/onboarding-api/internal/app"
	"github.com/simbridge/simbridge/services/onboarding-api/internal/ports"
)

// Device IPs of the fixture, one per situation the endpoint must handle.
const (
	ipActive    = "10.0.0.1"
	ipInactive  = "10.0.0.2"
	ipTwoSIMs   = "10.0.0.3"
	ipNoCreds   = "10.0.0.4"
	ipBrokenKey = "10.0.0.5"
	ipUnknown   = "10.0.0.99"
	iccidActive = "8988280666000000001"
	endpoint    = "test-ats.iot.eu-central-1.amazonaws.com"
	currentKey  = "current-api-key-0123456789"
	previousKey = "previous-api-key-0123456789"
)

// identity is a device certificate and its private key, both PEM, with
// CRLF line ends in the key as some tools write them.
type identity struct{ cert, key string }

var (
	identityOnce sync.Once
	deviceID     identity
)

func testIdentity(t *testing.T) identity {
	t.Helper()
	identityOnce.Do(func() {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "AWS IoT Certificate"},
			NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			panic(err)
		}
		keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
		deviceID = identity{
			cert: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
			key:  strings.ReplaceAll(string(keyPEM), "\n", "\r\n"),
		}
	})
	return deviceID
}

// matches reports whether the certificate's public key is the private key's.
func matches(certPEM, keyPEM string) error {
	cb, _ := pem.Decode([]byte(certPEM))
	kb, _ := pem.Decode([]byte(keyPEM))
	if cb == nil || kb == nil {
		return errors.New("not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return err
	}
	key, err := x509.ParsePKCS1PrivateKey(kb.Bytes)
	if err != nil {
		return err
	}
	if !key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(cert.PublicKey) {
		return errors.New("certificate does not match key")
	}
	return nil
}

// sealer stands in for KMS: the "ciphertext" is the key prefixed with the
// ICCID it was sealed for, and opening checks that binding.
type sealer struct{}

func seal(iccid, key string) []byte { return []byte(iccid + "|" + key) }

func (sealer) Open(_ context.Context, iccid string, ct []byte) ([]byte, error) {
	got, key, ok := bytes.Cut(ct, []byte("|"))
	if !ok || string(got) != iccid {
		return nil, errors.New("ciphertext sealed for another SIM")
	}
	return key, nil
}

// keyRing is a rotating key set whose refresh reveals `next` keys.
type keyRing struct {
	mu        sync.Mutex
	keys      []config.Secret
	next      []config.Secret
	refreshes int
}

func (k *keyRing) Accepted() []config.Secret {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys
}

func (k *keyRing) Refresh(context.Context) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.refreshes++
	if k.next != nil {
		k.keys, k.next = k.next, nil
	}
	return true, nil
}

// observed records what the HTTP port reports per request, as
// "code format" (the service's metrics count exactly these).
type observed struct {
	mu       sync.Mutex
	requests []string
}

func (o *observed) ObserveRequest(code int, format string, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.requests = append(o.requests, fmt.Sprintf("%d %s", code, format))
}

func (o *observed) all() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.requests)
}

// fixture is onboarding-api's HTTP port over an in-memory store.
type fixture struct {
	url  string
	logs *testkit.LogBuffer
	keys *keyRing
	id   identity
	seen observed
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	id := testIdentity(t)
	store := simstore.NewMemory()
	ctx := context.Background()
	recs := []simrec.Record{
		{ICCID: iccidActive, IP: ipActive, Active: true, Cert: &simrec.Credentials{PEM: id.cert, KeyCiphertext: seal(iccidActive, id.key)}},
		{ICCID: "8988280666000000002", IP: ipInactive, Active: false, Cert: &simrec.Credentials{PEM: id.cert, KeyCiphertext: seal("8988280666000000002", id.key)}},
		{ICCID: "8988280666000000031", IP: ipTwoSIMs, Active: true, Cert: &simrec.Credentials{PEM: id.cert, KeyCiphertext: seal("8988280666000000031", id.key)}},
		{ICCID: "8988280666000000032", IP: ipTwoSIMs, Active: true, Cert: &simrec.Credentials{PEM: id.cert, KeyCiphertext: seal("8988280666000000032", id.key)}},
		{ICCID: "8988280666000000004", IP: ipNoCreds, Active: true},
		{ICCID: "8988280666000000005", IP: ipBrokenKey, Active: true, Cert: &simrec.Credentials{PEM: id.cert, KeyCiphertext: seal("someone-else", id.key)}},
	}
	for _, r := range recs {
		if _, err := store.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{logs: &testkit.LogBuffer{}, keys: &keyRing{keys: []config.Secret{currentKey, previousKey}}, id: id}
	h := ports.NewHTTP(app.New(store, sealer{}, endpoint, "ROOT\nCA\n"), ports.Options{
		Paths: []string{"/device-api/onboarding", "/onboarding"}, DeviceIPHeader: "onboarding-ip", APIKeyHeader: "x-api-key",
		APIKeys: f.keys, Observer: &f.seen,
		Logger: slog.New(slog.NewJSONHandler(f.logs, nil)),
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

type response struct {
	code   int
	header http.Header
	body   string
}

// get calls the endpoint as the gateway would for the device at ip; extra
// headers override or add to the gateway's.
func (f *fixture) get(t *testing.T, path, ip string, extra map[string]string) response {
	t.Helper()
	return f.do(t, http.MethodGet, path, map[string]string{"onboarding-ip": ip, "x-api-key": currentKey}, extra)
}

func (f *fixture) do(t *testing.T, method, path string, base, extra map[string]string) response {
	t.Helper()
	req, _ := http.NewRequest(method, f.url+path, nil)
	for k, v := range base {
		req.Header.Set(k, v)
	}
	for k, v := range extra {
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
	return response{code: resp.StatusCode, header: resp.Header, body: string(b)}
}
