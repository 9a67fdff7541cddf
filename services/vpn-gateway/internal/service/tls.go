package service

import (
	"context"
	"crypto/tls"
	"fmt"
	"sync/atomic"
	"time"

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
}

func loadCertificate(ctx context.Context, src secrets.Source, sm secrets.SecretsManager, every time.Duration) (*certificate, error) {
	c := &certificate{src: src, sm: sm, every: every}
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
	c.cur.Store(&cert)
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
