package service

import (
	"context"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"golang.org/x/sync/errgroup"

	"github.com/simbridge/simbridge/libs/awsx"
	"github.com/simbridge/simbridge/libs/config"
	"github.com/simbridge/simbridge/libs/httpserver"
	"github.com/simbridge/simbridge/libs/iotcore"
	"github.com/simbridge/simbridge/libs/messaging"
	"github.com/simbridge/simbridge/libs/metrics"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/services/deactivator/internal/adapters"
	"github.com/simbridge/simbridge/services/deactivator/internal/app"
)

// Run starts the deactivator and blocks until ctx ends or a component fails.
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
	wlog := messaging.Logger(logger)
	snsPub, err := messaging.NewSNSPublisher(awsCfg, wlog)
	if err != nil {
		return err
	}
	sub, err := messaging.NewSQSSubscriber(awsCfg, wlog, messaging.SubscriberOptions{})
	if err != nil {
		return err
	}
	reg, probe := metrics.NewRegistry(), metrics.NewProbe()

	// Business.
	deactivator := app.New(
		simstore.NewDynamo(dynamodb.NewFromConfig(awsCfg), cfg.SimTable),
		iotcore.New(iot.NewFromConfig(awsCfg)),
		messaging.NewNotifier(snsPub, cfg.SuccessTopicARN, cfg.FailureTopicARN),
		logger,
	)
	handle := adapters.NewMetrics(reg).Measure(deactivator.Handle)

	// Consumers and the ops listener stop together.
	router, err := messaging.NewRouter(wlog, reg, cfg.ShutdownTimeout)
	if err != nil {
		return err
	}
	messaging.AddWorkers(router, "deactivate", cfg.DisableQueue, sub, cfg.Workers, messaging.CommandHandler(handle, logger))
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return metrics.Serve(gctx, cfg.OpsAddr, reg, probe, httpserver.Options{ShutdownTimeout: cfg.ShutdownTimeout})
	})
	g.Go(func() error { return router.Run(gctx) })
	g.Go(func() error {
		select {
		case <-router.Running():
			probe.SetReady()
			logger.Info("ready", "queue", cfg.DisableQueue, "workers", cfg.Workers)
		case <-gctx.Done():
		}
		return nil
	})
	err = g.Wait()
	logger.Info("stopped")
	return err
}
