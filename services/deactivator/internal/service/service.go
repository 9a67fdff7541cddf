package service

import (
	"context"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/simbridge/simbridge/libs/config"
	"github.com/simbridge/simbridge/libs/iotcore"
	"github.com/simbridge/simbridge/libs/messaging"
	"github.com/simbridge/simbridge/libs/metrics"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/services/deactivator/internal/app"
)

// Run loads the configuration from the environment and serves until ctx ends.
func Run(ctx context.Context, logger *slog.Logger) error {
	var cfg Config
	if err := config.Load(ctx, &cfg); err != nil {
		return err
	}
	logger.Info("starting", "config", config.LogValue(&cfg))
	reg := metrics.NewRegistry()
	awsCfg, err := cfg.LoadAWS(ctx, IoTOperations, reg, logger)
	if err != nil {
		return err
	}
	return Serve(ctx, cfg, awsCfg, reg, logger)
}

// Serve runs the deactivator with an explicit configuration and AWS
// configuration (component tests point it at the emulator).
func Serve(ctx context.Context, cfg Config, a messaging.AWS, reg *prometheus.Registry, logger *slog.Logger) error {
	awsCfg := a.Config
	snsPub := messaging.NewSNSPublisher(awsCfg, logger)
	notifier := messaging.NewNotifier(snsPub, cfg.SuccessTopicARN, cfg.FailureTopicARN)
	store := simstore.NewDynamo(dynamodb.NewFromConfig(awsCfg), cfg.SimTable)
	deactivator := app.New(
		store,
		iotcore.New(iot.NewFromConfig(awsCfg)),
		notifier, logger, app.Timing{ClaimTTL: cfg.ClaimTTL, ClaimWait: app.DefaultTiming.ClaimWait, Poll: app.DefaultTiming.Poll},
	)
	return messaging.RunConsumers(ctx, messaging.ConsumerOptions{
		Name: "deactivator", Queue: cfg.DisableQueue, Workers: cfg.Workers, OpsAddr: cfg.OpsAddr,
		ShutdownTimeout: cfg.ShutdownTimeout, AWS: awsCfg, Notifier: notifier, Registry: reg, Logger: logger,
		Quotas: a.Quotas, Failures: store,
	}, messaging.CommandHandler(messaging.NewCommandMetrics(reg, "deactivator").Measure(deactivator.Handle)))
}
