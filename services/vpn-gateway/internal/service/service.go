package service

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"golang.org/x/sync/errgroup"

	"github.com/simbridge/simbridge/libs/awsx"
	"github.com/simbridge/simbridge/libs/config"
	"github.com/simbridge/simbridge/libs/httpserver"
	"github.com/simbridge/simbridge/libs/messaging"
	"github.com/simbridge/simbridge/libs/metrics"
	"github.com/simbridge/simbridge/libs/secrets"
	"github.com/simbridge/simbridge/services/vpn-gateway/internal/adapters"
	"github.com/simbridge/simbridge/services/vpn-gateway/internal/app"
	"github.com/simbridge/simbridge/services/vpn-gateway/internal/ports"
)

// keyRefreshGap is the shortest time between two on-demand key re-reads.
const keyRefreshGap = 5 * time.Second

// Run starts vpn-gateway and blocks until ctx ends or a server fails.
func Run(ctx context.Context, logger *slog.Logger) error {
	// Configuration.
	var cfg Config
	if err := config.Start(ctx, &cfg, logger); err != nil {
		return err
	}
	debug.SetGCPercent(cfg.GCPercent)

	// Clients: every AWS call is measured (metrics.go declares every series).
	reg, probe := metrics.NewRegistry(), metrics.NewProbe()
	m := newMetrics(reg, cfg.Tunnel.Mode != TunnelNone, cfg.TLSListenAddr != "")
	awsCfg, err := awsx.Load(ctx, awsx.WithObserver(m.AWS))
	if err != nil {
		return err
	}
	sm := secretsmanager.NewFromConfig(awsCfg)
	keys, err := secrets.NewRotating(ctx, cfg.APIKey, sm, cfg.APIKeyRefresh, keyRefreshGap)
	if err != nil {
		return fmt.Errorf("API key: %w", err)
	}
	var cert *adapters.Certificate
	if cfg.TLSListenAddr != "" {
		if cert, err = adapters.LoadCertificate(ctx, cfg.TLSCert, sm, cfg.TLSRefresh, m.CertificateLoaded); err != nil {
			return err
		}
	}

	// Business: the proxy on the device-facing listeners, and in tunnel
	// mode the gateway that keeps the tunnel up and serves on its address.
	listeners := &ports.Listeners{
		Addr: cfg.ListenAddr, TLSAddr: cfg.TLSListenAddr, TLS: tlsConfig(cert),
		Handler: newProxy(cfg, keys, m, logger), Server: serverOptions(cfg), Logger: logger,
	}
	var gateway *app.Gateway
	if cfg.Tunnel.Mode != TunnelNone {
		if gateway, err = newGateway(ctx, cfg, awsCfg, sm, listeners, probe, m, logger); err != nil {
			return err
		}
	}

	// Servers and background work.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return metrics.Serve(gctx, cfg.OpsAddr, reg, probe, httpserver.Options{ShutdownTimeout: cfg.ShutdownTimeout})
	})
	g.Go(func() error {
		keys.Run(gctx, func(err error) { logger.Warn("API key refresh failed; keeping the last key", "error", err) })
		return nil
	})
	if cert != nil {
		g.Go(func() error {
			cert.Run(gctx, func(err error) { logger.Warn("TLS certificate refresh failed; keeping the last one", "error", err) })
			return nil
		})
	}
	if gateway == nil {
		g.Go(func() error { return listeners.Serve(gctx, "", func(string) { probe.SetReady() }) })
	} else {
		g.Go(func() error { return gateway.Run(gctx) })
	}
	logger.Info("started", "tunnel", cfg.Tunnel.Mode, "upstream", cfg.UpstreamURL, "ops", cfg.OpsAddr)
	err = g.Wait()
	logger.Info("stopped")
	return err
}

func newProxy(cfg Config, keys *secrets.Rotating, o ports.Observer, logger *slog.Logger) http.Handler {
	upstream, _ := url.Parse(cfg.UpstreamURL) // validated
	return ports.NewProxy(ports.ProxyOptions{
		Upstream: upstream, Paths: cfg.Paths, CertificatePaths: cfg.CertificatePaths, DeviceIPHeader: cfg.DeviceIPHeader, APIKeyHeader: cfg.APIKeyHeader,
		APIKey: func() string { return keys.Current().Reveal() }, UpstreamTimeout: cfg.UpstreamTimeout,
		KeyRejected: func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := keys.Refresh(ctx); err != nil {
				logger.Warn("API key re-read after a 401 failed; keeping the last key", "error", err)
			}
		},
		Guard: ports.GuardOptions{RatePerIP: cfg.Limits.RatePerIP, BurstPerIP: cfg.Limits.BurstPerIP,
			MaxConcurrent: cfg.Limits.MaxConcurrent, MaxBodyBytes: cfg.Limits.MaxBodyBytes, MaxHeaderBytes: cfg.Limits.MaxHeaderBytes,
			MaxCSRBytes: cfg.CSRMaxBytes},
		Observer: o, Logger: logger,
	})
}

// serverOptions bound slow and oversized requests on the device-facing
// listeners, and their shutdown.
func serverOptions(cfg Config) httpserver.Options {
	return httpserver.Options{
		ReadHeaderTimeout: cfg.Limits.ReadHeaderTimeout, ReadTimeout: cfg.Limits.ReadTimeout,
		WriteTimeout: cfg.Limits.WriteTimeout, IdleTimeout: cfg.Limits.IdleTimeout,
		MaxHeaderBytes: cfg.Limits.MaxHeaderBytes, ShutdownTimeout: cfg.ShutdownTimeout,
	}
}

// newGateway builds the tunnel mode: openvpn with its configuration and
// credentials from Secrets Manager, the endpoint parameter (when named) and
// the notifications on the shared topics.
func newGateway(ctx context.Context, cfg Config, awsCfg aws.Config, sm secrets.SecretsManager, l app.Listener,
	probe *metrics.Probe, m *Metrics, logger *slog.Logger) (*app.Gateway, error) {
	conf, err := cfg.Tunnel.OpenVPNConfig.Resolve(ctx, sm)
	if err != nil {
		return nil, fmt.Errorf("OpenVPN configuration: %w", err)
	}
	var auth config.Secret
	if optionalSet(cfg.Tunnel.OpenVPNAuth) {
		if auth, err = cfg.Tunnel.OpenVPNAuth.Resolve(ctx, sm); err != nil {
			return nil, fmt.Errorf("OpenVPN credentials: %w", err)
		}
	}
	tunnel, err := adapters.NewOpenVPN(adapters.OpenVPNOptions{
		Binary: cfg.Tunnel.OpenVPNBinary, Config: []byte(conf.Reveal() + "\n"), Auth: authFile(auth),
		Device: cfg.Tunnel.Device, UpTimeout: cfg.Tunnel.UpTimeout, Logger: logger.With("component", "openvpn"),
	})
	if err != nil {
		return nil, err
	}
	opts := app.GatewayOptions{
		Listener: l, Readiness: probe, Observer: m, Path: cfg.Paths[0], Logger: logger,
		Notifier: messaging.NewNotifier(messaging.NewSNSPublisher(awsCfg, logger), cfg.Tunnel.SuccessTopicARN, cfg.Tunnel.FailureTopicARN),
	}
	if cfg.Tunnel.EndpointParameter != "" {
		opts.Endpoint = adapters.NewEndpointParameter(ssm.NewFromConfig(awsCfg), cfg.Tunnel.EndpointParameter)
	}
	return app.NewGateway(tunnel, cfg.Tunnel.MaxBackoff, opts)
}

// authFile is openvpn's auth-user-pass file content.
func authFile(s config.Secret) []byte {
	if !s.IsSet() {
		return nil
	}
	return []byte(s.Reveal() + "\n")
}

func tlsConfig(c *adapters.Certificate) *tls.Config {
	if c == nil {
		return nil
	}
	return c.TLSConfig()
}
