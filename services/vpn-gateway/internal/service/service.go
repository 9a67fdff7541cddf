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
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/simbridge/simbridge/libs/awsx"
	"github.com/simbridge/simbridge/libs/config"
	"github.com/simbridge/simbridge/libs/httpserver"
	"github.com/simbridge/simbridge/libs/messaging"
	"github.com/simbridge/simbridge/libs/metrics"
	"github.com/simbridge/simbridge/libs/secrets"
	"github.com/simbridge/simbridge/services/vpn-gateway/internal/adapters"
	"github.com/simbridge/simbridge/services/vpn-gateway/internal/ports"
)

// keyRefreshGap is the shortest time between two on-demand key re-reads.
const keyRefreshGap = 5 * time.Second

// Run starts vpn-gateway and blocks until ctx ends or a server fails.
func Run(ctx context.Context, logger *slog.Logger) error {
	// Configuration.
	var cfg Config
	if err := config.Load(ctx, &cfg); err != nil {
		return err
	}
	logger.Info("starting", "config", config.LogValue(&cfg))
	debug.SetGCPercent(cfg.GCPercent)

	// Clients (every AWS call measured, as in the other services).
	reg, probe := metrics.NewRegistry(), metrics.NewProbe()
	awsCfg, err := awsx.Load(ctx, awsx.WithObserver(metrics.NewAWSCalls(reg)))
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
		if cert, err = adapters.LoadCertificate(ctx, cfg.TLSCert, sm, cfg.TLSRefresh, newCertificateExpiry(reg)); err != nil {
			return err
		}
	}

	// Business.
	srv := &servers{cfg: cfg, handler: newProxy(cfg, keys, ports.NewMetrics(reg), logger), tls: tlsConfig(cert), logger: logger}

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
	if cfg.Tunnel.Mode == TunnelNone {
		g.Go(func() error { return srv.serve(gctx, "", func(string) { probe.SetReady() }) })
	} else {
		t := newTunnelRunner(cfg, awsCfg, srv, probe, reg, logger)
		g.Go(func() error { return t.run(gctx, sm) })
	}
	logger.Info("started", "tunnel", cfg.Tunnel.Mode, "upstream", cfg.UpstreamURL, "ops", cfg.OpsAddr)
	err = g.Wait()
	logger.Info("stopped")
	return err
}

func newProxy(cfg Config, keys *secrets.Rotating, m *ports.Metrics, logger *slog.Logger) http.Handler {
	upstream, _ := url.Parse(cfg.UpstreamURL) // validated
	return ports.NewProxy(ports.ProxyOptions{
		Upstream: upstream, Paths: cfg.Paths, DeviceIPHeader: cfg.DeviceIPHeader, APIKeyHeader: cfg.APIKeyHeader,
		APIKey: func() string { return keys.Current().Reveal() }, UpstreamTimeout: cfg.UpstreamTimeout,
		KeyRejected: func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := keys.Refresh(ctx); err != nil {
				logger.Warn("API key re-read after a 401 failed; keeping the last key", "error", err)
			}
		},
		Guard: ports.GuardOptions{RatePerIP: cfg.Limits.RatePerIP, BurstPerIP: cfg.Limits.BurstPerIP,
			MaxConcurrent: cfg.Limits.MaxConcurrent, MaxBodyBytes: cfg.Limits.MaxBodyBytes, MaxHeaderBytes: cfg.Limits.MaxHeaderBytes},
		Metrics: m, Logger: logger,
	})
}

func newTunnelRunner(cfg Config, awsCfg aws.Config, srv *servers, probe *metrics.Probe, reg prometheus.Registerer, logger *slog.Logger) *tunnelRunner {
	up, restarts := newTunnelMetrics(reg)
	t := &tunnelRunner{cfg: cfg, servers: srv, probe: probe, logger: logger, up: up, restarts: restarts,
		notifier: messaging.NewNotifier(messaging.NewSNSPublisher(awsCfg, logger), cfg.Tunnel.SuccessTopicARN, cfg.Tunnel.FailureTopicARN)}
	if cfg.Tunnel.EndpointParameter != "" {
		t.param = adapters.NewEndpointParameter(ssm.NewFromConfig(awsCfg), cfg.Tunnel.EndpointParameter)
	}
	return t
}

func tlsConfig(c *adapters.Certificate) *tls.Config {
	if c == nil {
		return nil
	}
	return c.TLSConfig()
}
