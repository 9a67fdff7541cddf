package service

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"

	"golang.org/x/sync/errgroup"

	"github.com/simbridge/simbridge/libs/httpserver"
)

// servers are the device-facing listeners: plain HTTP always (firmware
// that cannot do TLS) and HTTPS when a certificate is configured.
type servers struct {
	cfg     Config
	handler http.Handler
	tls     *tls.Config
	logger  *slog.Logger
}

// endpoint is the device-facing address on host (the tunnel IP), or the
// configured address when host is empty (local mode).
func endpoint(addr, host string) string {
	if host == "" || addr == "" {
		return addr
	}
	_, port, _ := net.SplitHostPort(addr)
	return net.JoinHostPort(host, port)
}

// serve listens on host and answers devices until ctx ends; listening is
// called once every listener is open, with the plain HTTP address.
func (s *servers) serve(ctx context.Context, host string, listening func(plain string)) error {
	opts := httpserver.Options{
		ReadHeaderTimeout: s.cfg.Limits.ReadHeaderTimeout, ReadTimeout: s.cfg.Limits.ReadTimeout,
		WriteTimeout: s.cfg.Limits.WriteTimeout, IdleTimeout: s.cfg.Limits.IdleTimeout,
		MaxHeaderBytes: s.cfg.Limits.MaxHeaderBytes, ShutdownTimeout: s.cfg.ShutdownTimeout,
	}
	plain, err := httpserver.Listen(ctx, endpoint(s.cfg.ListenAddr, host))
	if err != nil {
		return err
	}
	var secure net.Listener
	if s.tls != nil {
		if secure, err = httpserver.Listen(ctx, endpoint(s.cfg.TLSListenAddr, host)); err != nil {
			_ = plain.Close()
			return err
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return httpserver.Serve(gctx, plain, s.handler, opts) })
	if secure != nil {
		tlsOpts := opts
		tlsOpts.TLSConfig = s.tls
		g.Go(func() error { return httpserver.Serve(gctx, secure, s.handler, tlsOpts) })
		s.logger.Info("listening (HTTPS)", "addr", secure.Addr().String())
	}
	s.logger.Info("listening", "addr", plain.Addr().String())
	listening(plain.Addr().String())
	return g.Wait()
}
