package service

import (
	"context"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/simbridge/simbridge/libs/config"
	"github.com/simbridge/simbridge/libs/iotcore"
	"github.com/simbridge/simbridge/libs/keyseal"
	"github.com/simbridge/simbridge/libs/messaging"
	"github.com/simbridge/simbridge/libs/metrics"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/services/provisioner/internal/adapters"
	"github.com/simbridge/simbridge/services/provisioner/internal/app"
)

// Run loads the configuration from the environment and serves until ctx ends.
func Run(ctx context.Context, logger *slog.Logger) error {
	var cfg Config
	if err := config.Load(ctx, &cfg); err != nil {
		return err
	}
	logger.Info("starting", "config", config.LogValue(&cfg))
	reg := metrics.NewRegistry()
	awsCfg, err := cfg.LoadAWS(ctx, cfg.IoTRateLimits, reg)
	if err != nil {
		return err
	}
	return Serve(ctx, cfg, awsCfg, reg, logger)
}

// Serve runs the provisioner with an explicit configuration and AWS
// configuration (component tests point it at the emulator or a fault proxy).
func Serve(ctx context.Context, cfg Config, awsCfg aws.Config, reg *prometheus.Registry, logger *slog.Logger) error {
	// Clients.
	sealer, err := keyseal.NewSealer(kms.NewFromConfig(awsCfg), cfg.KMSKeyID)
	if err != nil {
		return err
	}
	snsPub, err := messaging.NewSNSPublisher(awsCfg, messaging.Logger(logger))
	if err != nil {
		return err
	}
	notifier := messaging.NewNotifier(snsPub, cfg.SuccessTopicARN, cfg.FailureTopicARN)

	// Business.
	provisioner := app.New(
		simstore.NewDynamo(dynamodb.NewFromConfig(awsCfg), cfg.SimTable),
		iotcore.New(iot.NewFromConfig(awsCfg)),
		sealer,
		adapters.NewAnnouncer(notifier, iotdataplane.NewFromConfig(awsCfg), cfg.RegistrationTopic),
		cfg.IoTPolicyName, logger,
	)

	// Consumers and the ops listener.
	return messaging.RunConsumers(ctx, messaging.ConsumerOptions{
		Name: "provisioner", Queue: cfg.CreateQueue, Workers: cfg.Workers, OpsAddr: cfg.OpsAddr,
		ShutdownTimeout: cfg.ShutdownTimeout, AWS: awsCfg, Notifier: notifier, Registry: reg, Logger: logger,
	}, messaging.NewCommandMetrics(reg, "provisioner").Measure(provisioner.Handle))
}
