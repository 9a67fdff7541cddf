package service

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/simbridge/simbridge/libs/metrics"
	"github.com/simbridge/simbridge/libs/secrets"
)

// certificate is the HTTPS certificate, re-read periodically so a renewed
// certificate in Secrets Manager is served without a restart, and a
// replacement task serves the same one without manual steps.
type certificate struct {
	src   secrets.Source
	sm    secrets.SecretsManager
	every time.Duration
	cur   atomic.Pointer[tls.Certificate]
	// notAfter is what the expiry alarm watches; set at every (re)load, so
	// a renewal in Secrets Manager clears the alarm without a restart.
	notAfter prometheus.Gauge
}

// newCertificateExpiry registers the gauge of the served certificate's end
// of validity (its NotAfter, Unix seconds).
func newCertificateExpiry(reg prometheus.Registerer) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: metrics.Namespace, Subsystem: "vpn_gateway",
		Name: "tls_certificate_not_after_timestamp_seconds",
		Help: "When the HTTPS certificate being served stops being valid (its NotAfter), in Unix seconds."})
	reg.MustRegister(g)
	return g
}

func loadCertificate(ctx context.Context, src secrets.Source, sm secrets.SecretsManager, every time.Duration, notAfter prometheus.Gauge) (*certificate, error) {
	c := &certificate{src: src, sm: sm, every: every, notAfter: notAfter}
	if err := c.load(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// load parses the PEM bundle: every CERTIFICATE block is the chain, the
// PRIVATE KEY block its key.
func (c *certificate) load(ctx context.Context) error {
	bundle, err := c.src.Resolve(ctx, c.sm)
	if err != nil {
		return fmt.Errorf("TLS certificate: %w", err)
	}
	pemBytes := []byte(bundle.Reveal())
	cert, err := tls.X509KeyPair(pemBytes, pemBytes)
	if err != nil {
		return fmt.Errorf("TLS certificate: parse PEM bundle: %w", err)
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return fmt.Errorf("TLS certificate: %w", err)
		}
	}
	c.cur.Store(&cert)
	c.notAfter.Set(float64(leaf.NotAfter.Unix()))
	return nil
}

// run re-reads the certificate every interval until ctx ends.
func (c *certificate) run(ctx context.Context, onErr func(error)) {
	t := time.NewTicker(c.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := c.load(ctx); err != nil {
				onErr(err)
			}
		}
	}
}

func (c *certificate) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return c.cur.Load(), nil },
	}
}
