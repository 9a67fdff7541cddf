package ports

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"

	"golang.org/x/sync/errgroup"

	"github.com/simbridge/simbridge/libs/httpserver"
)

// Listeners are the device-facing listeners: plain HTTP always (firmware
// that cannot do TLS) and HTTPS when a certificate is configured. With the
// tunnel they listen on its address, which is known only once it is up.
type Listeners struct {
	// Addr is the plain HTTP address; with a host given to Serve only its
	// port is used.
	Addr string
	// TLSAddr is the HTTPS address (same rule), used when TLS is set.
	TLSAddr string
	// TLS serves the certificate (nil: no HTTPS listener).
	TLS *tls.Config
	// Handler is the device-facing proxy, the same on both.
	Handler http.Handler
	// Server bounds slow clients, header size and shutdown on both.
	Server httpserver.Options
	Logger *slog.Logger
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

// Serve listens on host and answers devices until ctx ends; listening is
// called once every listener is open, with the plain HTTP address.
func (l *Listeners) Serve(ctx context.Context, host string, listening func(plain string)) error {
	plain, err := httpserver.Listen(ctx, endpoint(l.Addr, host))
	if err != nil {
		return err
	}
	var secure net.Listener
	if l.TLS != nil {
		if secure, err = httpserver.Listen(ctx, endpoint(l.TLSAddr, host)); err != nil {
			_ = plain.Close()
			return err
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return httpserver.Serve(gctx, plain, l.Handler, l.Server) })
	if secure != nil {
		tlsOpts := l.Server
		tlsOpts.TLSConfig = l.TLS
		g.Go(func() error { return httpserver.Serve(gctx, secure, l.Handler, tlsOpts) })
		l.Logger.Info("listening (HTTPS)", "addr", secure.Addr().String())
	}
	l.Logger.Info("listening", "addr", plain.Addr().String())
	listening(plain.Addr().String())
	return g.Wait()
}
