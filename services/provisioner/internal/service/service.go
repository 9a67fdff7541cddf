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

	"github.com/simbridge/simbridge/libs/iotca"
	"github.com/simbridge/simbridge/libs/iotcore"
	"github.com/simbridge/simbridge/libs/keyseal"
	"github.com/simbridge/simbridge/libs/messaging"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/services/provisioner/internal/adapters"
	"github.com/simbridge/simbridge/services/provisioner/internal/app"
	"github.com/simbridge/simbridge/services/provisioner/internal/ports"
)

// Run loads the configuration from the environment and serves until ctx ends.
func Run(ctx context.Context, logger *slog.Logger) error {
	return messaging.Main(ctx, logger, IoTOperations, NewMetrics, Serve)
}

// Serve runs the provisioner with an explicit configuration, AWS
// configuration and metrics (component tests point it at the emulator or a
// fault proxy).
func Serve(ctx context.Context, cfg Config, a messaging.AWS, m *Metrics, logger *slog.Logger) error {
	// Clients and adapters.
	awsCfg := a.Config
	sealer, err := keyseal.NewSealer(kms.NewFromConfig(awsCfg), cfg.KMSKeyID)
	if err != nil {
		return err
	}
	notifier := messaging.NewNotifier(messaging.NewSNSPublisher(awsCfg, logger), cfg.SuccessTopicARN, cfg.FailureTopicARN)
	iotClient := iotcore.New(iot.NewFromConfig(awsCfg))
	things, err := adapters.NewIoT(iotClient, cfg.IoTPolicyName, cfg.ThingGroup, cfg.ThingType)
	if err != nil {
		return err
	}
	store := simstore.NewDynamo(dynamodb.NewFromConfig(awsCfg), cfg.SimTable)
	announcer := adapters.NewAnnouncer(notifier, iotdataplane.NewFromConfig(awsCfg), cfg.RegistrationTopic)

	// Use cases, once the certificate authority is there: on the first
	// deploy the IoT CA is registered after the stack (`make deploy` runs
	// the setup), so the task waits for it, live but not ready.
	start := func(ctx context.Context) (ports.Commands, error) {
		authority, err := awaitAuthority(ctx, cfg, awsCfg, iotClient, m, logger)
		if err != nil {
			return nil, err
		}
		return app.New(app.Deps{Store: store, IoT: things, Authority: authority, Sealer: sealer, Announcer: announcer,
			Notifier: notifier, Logger: logger, KeyMode: cfg.KeyMode}, simrec.DefaultClaimTiming.WithTTL(cfg.ClaimTTL))
	}

	// The create queue and the update lane, the quota membership and the
	// ops listener, until ctx ends.
	return ports.ServeQueue(ctx, messaging.ConsumerOptions{
		Name: "provisioner", Queue: cfg.CreateQueue, Workers: cfg.Workers, OpsAddr: cfg.OpsAddr,
		Lanes:           []messaging.Lane{{Name: "update", Queue: cfg.UpdateQueue, Workers: cfg.UpdateWorkers}},
		ShutdownTimeout: cfg.ShutdownTimeout, AWS: awsCfg, Notifier: notifier, Registry: m.Registry(), Observer: m.Consumer, Logger: logger,
		Quotas: a.Quotas, Failures: store,
	}, start, m.Measure)
}

// caRetry is how often a provisioner waiting for the IoT CA looks again.
const caRetry = 15 * time.Second

// awaitAuthority loads the certificate authority, waiting while the IoT CA
// has not been set up yet.
func awaitAuthority(ctx context.Context, cfg Config, awsCfg aws.Config, iotClient *iotcore.Client, m *Metrics, logger *slog.Logger) (app.Authority, error) {
	for {
		authority, err := newAuthority(ctx, cfg, awsCfg, iotClient, m, logger)
		if !errors.Is(err, iotca.ErrNoCA) {
			return authority, err
		}
		logger.Warn("waiting for the IoT CA: run the one-time setup (make deploy does; simbridge ca init)", "parameter", cfg.CAParameter)
		if err := (simrec.SystemClock{}).Sleep(ctx, caRetry); err != nil {
			return nil, err
		}
	}
}

// newAuthority loads the configured certificate authority; the own CA's
// certificate comes from SSM and must belong to the KMS key, and its device
// keys are generated ahead (DEVICE_KEY_POOL) until ctx ends.
func newAuthority(ctx context.Context, cfg Config, awsCfg aws.Config, iotClient *iotcore.Client, m *Metrics, logger *slog.Logger) (app.Authority, error) {
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
	m.CAExpires(ca.Cert.NotAfter)
	pool := cfg.DeviceKeyPool
	if !cfg.KeyMode.ServesKeys() {
		pool = 0 // keys only for SIMs an operator set to server or both: on demand
	}
	keys, err := iotca.NewKeyPool(keyType, pool)
	if err != nil {
		return nil, fmt.Errorf("DEVICE_KEY_POOL: %w", err)
	}
	go func() { // until the service stops
		if err := keys.Run(ctx); err != nil && ctx.Err() == nil {
			logger.Error("device key pool stopped; keys are generated on demand", "error", err)
		}
	}()
	return adapters.OwnCA{CA: ca, IoT: iotClient, Keys: keys, Validity: cfg.CertValidity}, nil
}
