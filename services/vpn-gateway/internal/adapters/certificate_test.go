package adapters_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/secrets"
	"github.com/simbridge/simbridge/services/vpn-gateway/internal/adapters"
)

// TestCertificateExpiryFollowsTheServedCertificate: the NotAfter the expiry
// alarm watches is the one of the certificate being served, updated when a
// renewed one is read; an unreadable bundle keeps the last one served.
func TestCertificateExpiryFollowsTheServedCertificate(t *testing.T) {
	t.Parallel()
	first := time.Now().Add(20 * 24 * time.Hour).Truncate(time.Second)
	renewed := first.Add(90 * 24 * time.Hour)
	file := filepath.Join(t.TempDir(), "bundle.pem")
	write := func(content string) {
		t.Helper()
		tmp := file + ".tmp"
		if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, file); err != nil {
			t.Fatal(err)
		}
	}
	write(pemBundle(t, first))

	var mu sync.Mutex
	var loaded []time.Time
	last := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return loaded[len(loaded)-1]
	}
	c, err := adapters.LoadCertificate(context.Background(), secrets.Source{File: file}, nil, 20*time.Millisecond,
		func(notAfter time.Time) { mu.Lock(); loaded = append(loaded, notAfter); mu.Unlock() })
	if err != nil {
		t.Fatal(err)
	}
	if got := last(); !got.Equal(first) || !servedNotAfter(t, c).Equal(first) {
		t.Fatalf("NotAfter %v, served %v; want %v", got, servedNotAfter(t, c), first)
	}

	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		c.Run(ctx, func(err error) {
			select {
			case errs <- err:
			default:
			}
		})
		close(done)
	}()
	t.Cleanup(func() { cancel(); <-done })

	write("not a certificate")
	select {
	case <-errs:
	case <-time.After(5 * time.Second):
		t.Fatal("an unreadable bundle was not reported")
	}
	if !servedNotAfter(t, c).Equal(first) {
		t.Fatal("an unreadable bundle replaced the served certificate")
	}

	write(pemBundle(t, renewed))
	deadline := time.Now().Add(5 * time.Second)
	for !last().Equal(renewed) || !servedNotAfter(t, c).Equal(renewed) {
		if time.Now().After(deadline) {
			t.Fatalf("after renewal: NotAfter %v, served %v; want %v", last(), servedNotAfter(t, c), renewed)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// servedNotAfter is the NotAfter of the certificate a handshake gets now.
func servedNotAfter(t *testing.T, c *adapters.Certificate) time.Time {
	t.Helper()
	cert, err := c.TLSConfig().GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.NotAfter
}

func pemBundle(t *testing.T, notAfter time.Time) string {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gateway.test"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})) +
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}
