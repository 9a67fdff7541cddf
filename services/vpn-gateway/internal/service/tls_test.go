package service

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/simbridge/simbridge/libs/config"
	"github.com/simbridge/simbridge/libs/secrets"
)

// TestCertificateExpiryFollowsTheServedCertificate: the gauge the expiry
// alarm watches is the NotAfter of the certificate being served, updated
// when a renewed one is read.
func TestCertificateExpiryFollowsTheServedCertificate(t *testing.T) {
	t.Parallel()
	first := time.Now().Add(20 * 24 * time.Hour).Truncate(time.Second)
	renewed := first.Add(90 * 24 * time.Hour)
	src := secrets.Source{Value: config.Secret(pemBundle(t, first))}
	gauge := newCertificateExpiry(prometheus.NewRegistry())
	c, err := loadCertificate(context.Background(), src, nil, time.Hour, gauge)
	if err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(gauge); got != float64(first.Unix()) {
		t.Fatalf("gauge %v, want NotAfter %v", got, first.Unix())
	}
	c.src = secrets.Source{Value: config.Secret(pemBundle(t, renewed))}
	if err := c.load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(gauge); got != float64(renewed.Unix()) {
		t.Fatalf("after renewal: gauge %v, want %v", got, renewed.Unix())
	}
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
