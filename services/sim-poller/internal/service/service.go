package service

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"golang.org/x/sync/errgroup"

	"github.com/simbridge/simbridge/libs/awsx"
	"github.com/simbridge/simbridge/libs/config"
	"github.com/simbridge/simbridge/libs/httpserver"
	"github.com/simbridge/simbridge/libs/messaging"
	"github.com/simbridge/simbridge/libs/metrics"
	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/services/sim-poller/internal/adapters"
	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
	"github.com/simbridge/simbridge/services/sim-poller/internal/ports"
)

// Run starts sim-poller and blocks until ctx ends or a server fails.
func Run(ctx context.Context, logger *slog.Logger) error {
	// Configuration.
	var cfg Config
	if err := config.Load(ctx, &cfg); err != nil {
		return err
	}
	logger.Info("starting", "config", config.LogValue(&cfg))

	// Clients.
	awsCfg, err := awsx.Load(ctx)
	if err != nil {
		return err
	}
	password, err := cfg.OncePassword.Resolve(ctx, secretsmanager.NewFromConfig(awsCfg))
	if err != nil {
		return fmt.Errorf("1NCE password: %w", err)
	}
	reg, probe := metrics.NewRegistry(), metrics.NewProbe()
	m := adapters.NewMetrics(reg)
	inventory, err := onceapi.New(onceapi.Config{
		BaseURL: cfg.OnceAPIURL, Username: cfg.OnceUsername, Password: password,
		RateLimit: cfg.OnceRateLimit, PageSize: cfg.OncePageSize, Observer: m,
	})
	if err != nil {
		return err
	}
	wlog := messaging.Logger(logger)
	sqsPub, err := messaging.NewSQSPublisher(awsCfg, wlog)
	if err != nil {
		return err
	}
	snsPub, err := messaging.NewSNSPublisher(awsCfg, wlog)
	if err != nil {
		return err
	}

	// Business.
	syncer := adapters.MeasuredSyncer{Metrics: m, Next: app.NewSyncer(
		simstore.NewDynamo(dynamodb.NewFromConfig(awsCfg), cfg.SimTable),
		inventory,
		adapters.NewCommandPublisher(sqsPub, cfg.CreateQueue, cfg.DisableQueue),
		messaging.NewNotifier(snsPub, "", cfg.FailureTopicARN),
		app.Guard{MaxDisableShare: cfg.MaxDisableShare, DisableAllowance: cfg.DisableAllowance},
		cfg.Publishers, logger,
	)}

	// Servers: the ops listener, POST /sync and the schedule stop together.
	opts := httpserver.Options{ShutdownTimeout: cfg.ShutdownTimeout}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return metrics.Serve(gctx, cfg.OpsAddr, reg, probe, opts) })
	g.Go(func() error {
		return httpserver.ListenAndServe(gctx, cfg.HTTPAddr, ports.NewHTTP(syncer, logger), opts)
	})
	g.Go(func() error { return ports.RunSchedule(gctx, syncer, cfg.SyncInterval, cfg.SyncOnStart, logger) })
	probe.SetReady()
	logger.Info("ready", "http", cfg.HTTPAddr, "ops", cfg.OpsAddr)
	err = g.Wait()
	logger.Info("stopped")
	return err
}
