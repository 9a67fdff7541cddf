package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/simbridge/simbridge/libs/config"
	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/iotca"
	"github.com/simbridge/simbridge/libs/iotcore"
	"github.com/simbridge/simbridge/libs/keyseal"
	"github.com/simbridge/simbridge/libs/messaging"
	"github.com/simbridge/simbridge/libs/metrics"
	"github.com/simbridge/simbridge/libs/simrec"
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
	awsCfg, err := cfg.LoadAWS(ctx, IoTOperations, reg, logger)
	if err != nil {
		return err
	}
	return Serve(ctx, cfg, awsCfg, reg, logger)
}

// Serve runs the provisioner with an explicit configuration and AWS
// configuration (component tests point it at the emulator or a fault proxy).
func Serve(ctx context.Context, cfg Config, a messaging.AWS, reg *prometheus.Registry, logger *slog.Logger) error {
	// Clients.
	awsCfg := a.Config
	sealer, err := keyseal.NewSealer(kms.NewFromConfig(awsCfg), cfg.KMSKeyID)
	if err != nil {
		return err
	}
	snsPub := messaging.NewSNSPublisher(awsCfg, logger)
	notifier := messaging.NewNotifier(snsPub, cfg.SuccessTopicARN, cfg.FailureTopicARN)
	iotClient := iotcore.New(iot.NewFromConfig(awsCfg))
	store := simstore.NewDynamo(dynamodb.NewFromConfig(awsCfg), cfg.SimTable)
	measure := messaging.NewCommandMetrics(reg, "provisioner")

	// Business, once the certificate authority is there: on the first
	// deploy the IoT CA is registered after the stack (`make deploy` runs
	// the setup), so the task waits for it, live but not ready.
	var handle messaging.CommandFunc
	prepare := func(ctx context.Context) error {
		authority, err := awaitAuthority(ctx, cfg, awsCfg, iotClient, reg, logger)
		if err != nil {
			return err
		}
		provisioner, err := app.New(app.Deps{
			Store: store, IoT: iotClient, Authority: authority,
			Sealer: sealer, Announcer: adapters.NewAnnouncer(notifier, iotdataplane.NewFromConfig(awsCfg), cfg.RegistrationTopic),
			Notifier: notifier, Policy: cfg.IoTPolicyName, ThingGroup: cfg.ThingGroup, ThingType: cfg.ThingType, Logger: logger,
		}, app.Timing{ClaimTTL: cfg.ClaimTTL, ClaimWait: app.DefaultTiming.ClaimWait, Poll: app.DefaultTiming.Poll})
		handle = measure.Measure(provisioner.Handle)
		return err
	}

	// Consumers, the quota membership and the ops listener.
	return messaging.RunConsumers(ctx, messaging.ConsumerOptions{
		Name: "provisioner", Queue: cfg.CreateQueue, Workers: cfg.Workers, OpsAddr: cfg.OpsAddr,
		ShutdownTimeout: cfg.ShutdownTimeout, AWS: awsCfg, Notifier: notifier, Registry: reg, Logger: logger,
		Quotas: a.Quotas, Failures: store, Prepare: prepare,
	}, messaging.CommandHandler(func(ctx context.Context, cmd events.SimCommand) error { return handle(ctx, cmd) }))
}

// caRetry is how often a provisioner waiting for the IoT CA looks again.
const caRetry = 15 * time.Second

// awaitAuthority loads the certificate authority, waiting while the IoT CA
// has not been set up yet.
func awaitAuthority(ctx context.Context, cfg Config, awsCfg aws.Config, iotClient *iotcore.Client, reg prometheus.Registerer, logger *slog.Logger) (app.Authority, error) {
	for {
		authority, err := newAuthority(ctx, cfg, awsCfg, iotClient, reg)
		if !errors.Is(err, iotca.ErrNoCA) {
			return authority, err
		}
		logger.Warn("waiting for the IoT CA: run the one-time setup (make deploy does; simbridge ca init)", "parameter", cfg.CAParameter)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(caRetry):
		}
	}
}

// newAuthority loads the configured certificate authority; the own CA's
// certificate comes from SSM and must belong to the KMS key.
func newAuthority(ctx context.Context, cfg Config, awsCfg aws.Config, iotClient *iotcore.Client, reg prometheus.Registerer) (app.Authority, error) {
	if cfg.CertAuthority == simrec.AuthorityAWS {
		return adapters.AmazonCA{IoT: iotClient}, nil
	}
	signer, err := iotca.NewSigner(ctx, kms.NewFromConfig(awsCfg), cfg.CAKeyID)
	if err != nil {
		return nil, err
	}
	ca, err := iotca.Load(ctx, signer, ssm.NewFromConfig(awsCfg), cfg.CAParameter)
	if err != nil {
		return nil, err
	}
	keyType, err := iotca.ParseKeyType(cfg.DeviceKeyType)
	if err != nil {
		return nil, fmt.Errorf("DEVICE_KEY_TYPE: %w", err)
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: metrics.Namespace, Name: "ca_certificate_not_after_timestamp_seconds",
		Help: "When the IoT CA certificate that signs device certificates expires (Unix seconds)."},
		func() float64 { return float64(ca.Cert.NotAfter.Unix()) }))
	return adapters.OwnCA{CA: ca, IoT: iotClient, KeyType: keyType, Validity: cfg.CertValidity}, nil
}
