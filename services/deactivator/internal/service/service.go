package service

import (
	"context"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/simbridge/simbridge/libs/iotcore"
	"github.com/simbridge/simbridge/libs/messaging"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/services/deactivator/internal/adapters"
	"github.com/simbridge/simbridge/services/deactivator/internal/app"
	"github.com/simbridge/simbridge/services/deactivator/internal/ports"
)

// Run loads the configuration from the environment and serves until ctx ends.
func Run(ctx context.Context, logger *slog.Logger) error {
	return messaging.Main(ctx, logger, IoTOperations, NewMetrics, Serve)
}

// Serve runs the deactivator with an explicit configuration, AWS
// configuration and metrics (component tests point it at the emulator).
func Serve(ctx context.Context, cfg Config, a messaging.AWS, m *Metrics, logger *slog.Logger) error {
	// Clients and adapters.
	notifier := messaging.NewNotifier(messaging.NewSNSPublisher(a.Config, logger), cfg.SuccessTopicARN, cfg.FailureTopicARN)
	store := simstore.NewDynamo(dynamodb.NewFromConfig(a.Config), cfg.SimTable)
	certs := adapters.Certificates{IoTCore: iotcore.New(iot.NewFromConfig(a.Config))}

	// Use cases.
	deactivator, err := app.New(app.Deps{Store: store, Certificates: certs, Notifier: notifier, Logger: logger}, simrec.DefaultClaimTiming.WithTTL(cfg.ClaimTTL))
	if err != nil {
		return err
	}

	// The disable queue and the ops listener, until ctx ends.
	return ports.ServeQueue(ctx, messaging.ConsumerOptions{
		Name: "deactivator", Queue: cfg.DisableQueue, Workers: cfg.Workers, OpsAddr: cfg.OpsAddr,
		ShutdownTimeout: cfg.ShutdownTimeout, AWS: a.Config, Notifier: notifier, Registry: m.Registry(), Observer: m.Consumer, Logger: logger,
		Quotas: a.Quotas, Failures: store,
	}, deactivator, m.Measure)
}
