package service

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"golang.org/x/sync/errgroup"

	"github.com/simbridge/simbridge/libs/awsx"
	"github.com/simbridge/simbridge/libs/config"
	"github.com/simbridge/simbridge/libs/httpserver"
	"github.com/simbridge/simbridge/libs/metrics"
	"github.com/simbridge/simbridge/services/vpn-gateway/internal/ports"
)

// Run starts vpn-gateway and blocks until ctx ends or a server fails.
func Run(ctx context.Context, logger *slog.Logger) error {
	// Configuration.
	var cfg Config
	if err := config.Load(ctx, &cfg); err != nil {
		return err
	}
	logger.Info("starting", "config", config.LogValue(&cfg))
	upstream, _ := url.Parse(cfg.UpstreamURL)

	// Clients.
	awsCfg, err := awsx.Load(ctx)
	if err != nil {
		return err
	}
	apiKey, err := cfg.APIKey.Resolve(ctx, secretsmanager.NewFromConfig(awsCfg))
	if err != nil {
		return fmt.Errorf("API key: %w", err)
	}
	reg, probe := metrics.NewRegistry(), metrics.NewProbe()

	// Business.
	proxy := ports.NewProxy(ports.ProxyOptions{
		Upstream: upstream, Paths: cfg.Paths, DeviceIPHeader: cfg.DeviceIPHeader, APIKeyHeader: cfg.APIKeyHeader,
		APIKey: apiKey.Reveal, Metrics: ports.NewMetrics(reg), Logger: logger,
	})

	// Servers.
	opts := httpserver.Options{ShutdownTimeout: cfg.ShutdownTimeout}
	ln, err := httpserver.Listen(ctx, cfg.ListenAddr)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return metrics.Serve(gctx, cfg.OpsAddr, reg, probe, opts) })
	g.Go(func() error { return httpserver.Serve(gctx, ln, proxy, opts) })
	probe.SetReady()
	logger.Info("ready", "listen", ln.Addr().String(), "upstream", cfg.UpstreamURL)
	err = g.Wait()
	logger.Info("stopped")
	return err
}
