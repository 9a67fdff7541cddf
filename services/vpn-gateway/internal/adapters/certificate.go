package adapters

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/simbridge/simbridge/libs/secrets"
)

// Certificate is the HTTPS certificate, re-read periodically so a renewed
// certificate in Secrets Manager is served without a restart, and a
// replacement task serves the same one without manual steps.
type Certificate struct {
	src   secrets.Source
	sm    secrets.SecretsManager
	every time.Duration
	cur   atomic.Pointer[tls.Certificate]
	// loaded hears the NotAfter of every certificate read: the expiry alarm
	// watches it, so a renewal clears the alarm without a restart.
	loaded func(notAfter time.Time)
}

// LoadCertificate reads the PEM bundle from src once (an unreadable one
// stops the start) and returns the certificate to serve; loaded (may be
// nil) hears the NotAfter of this and every later read.
func LoadCertificate(ctx context.Context, src secrets.Source, sm secrets.SecretsManager, every time.Duration, loaded func(notAfter time.Time)) (*Certificate, error) {
	if every <= 0 {
		return nil, errors.New("TLS certificate: the refresh interval must be positive")
	}
	if loaded == nil {
		loaded = func(time.Time) {}
	}
	c := &Certificate{src: src, sm: sm, every: every, loaded: loaded}
	if err := c.load(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// load parses the PEM bundle: every CERTIFICATE block is the chain, the
// PRIVATE KEY block its key.
func (c *Certificate) load(ctx context.Context) error {
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
	c.loaded(leaf.NotAfter)
	return nil
}

// Run re-reads the certificate every interval until ctx ends; a failed read
// goes to onErr and the last good certificate stays served.
func (c *Certificate) Run(ctx context.Context, onErr func(error)) {
	secrets.Every(ctx, c.every, c.load, onErr)
}

// TLSConfig serves whatever certificate was read last, so a renewal takes
// effect at the next handshake.
func (c *Certificate) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return c.cur.Load(), nil },
	}
}
