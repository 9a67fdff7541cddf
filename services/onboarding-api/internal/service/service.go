package service

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"golang.org/x/sync/errgroup"

	"github.com/simbridge/simbridge/libs/awsx"
	"github.com/simbridge/simbridge/libs/config"
	"github.com/simbridge/simbridge/libs/httpserver"
	"github.com/simbridge/simbridge/libs/keyseal"
	"github.com/simbridge/simbridge/libs/metrics"
	"github.com/simbridge/simbridge/libs/secrets"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/services/onboarding-api/internal/adapters"
	"github.com/simbridge/simbridge/services/onboarding-api/internal/app"
	"github.com/simbridge/simbridge/services/onboarding-api/internal/ports"
)

// keyRefreshGap is the shortest time between two on-demand re-reads of the
// API key, so requests with wrong keys cannot hammer Secrets Manager.
const keyRefreshGap = 5 * time.Second

// Run starts onboarding-api and blocks until ctx ends or a server fails.
func Run(ctx context.Context, logger *slog.Logger) error {
	// Configuration.
	var cfg Config
	if err := config.Start(ctx, &cfg, logger); err != nil {
		return err
	}
	debug.SetGCPercent(cfg.GCPercent)

	// Clients: every AWS call is measured (metrics.go declares every series).
	reg, probe := metrics.NewRegistry(), metrics.NewProbe()
	m := newMetrics(reg)
	awsCfg, err := awsx.Load(ctx, awsx.WithObserver(m.AWS))
	if err != nil {
		return err
	}
	keys, err := secrets.NewRotating(ctx, cfg.APIKey, secretsmanager.NewFromConfig(awsCfg), cfg.APIKeyRefresh, keyRefreshGap)
	if err != nil {
		return fmt.Errorf("API key: %w", err)
	}
	endpoint, err := adapters.IoTEndpoint(ctx, iot.NewFromConfig(awsCfg), cfg.IoTEndpoint)
	if err != nil {
		return err
	}
	rootCA, err := rootCA(cfg.RootCAFile)
	if err != nil {
		return err
	}

	// Business.
	store := simstore.NewDynamo(dynamodb.NewFromConfig(awsCfg), cfg.SimTable)
	onboarding, err := newOnboarding(cfg, awsCfg, store, endpoint, rootCA, m)
	if err != nil {
		return err
	}
	enrolment, err := newEnrolment(cfg, awsCfg, store, endpoint, rootCA, logger)
	if err != nil {
		return err
	}
	fetches := adapters.NewFetchLog(store, cfg.FetchRecordInterval, logger)
	handler := ports.NewHTTP(onboarding, ports.Options{
		Paths: cfg.Paths, DeviceIPHeader: cfg.DeviceIPHeader, APIKeyHeader: cfg.APIKeyHeader,
		APIKeys: keys, Observer: m, Logger: logger, Fetches: fetches,
		CertificatePaths: cfg.CertificatePaths, Enroller: enrolment, CSRMaxBytes: cfg.CSRMaxBytes, Enrolments: m,
	})

	// Servers and background work.
	opts := httpserver.Options{ShutdownTimeout: cfg.ShutdownTimeout}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return metrics.Serve(gctx, cfg.OpsAddr, reg, probe, opts) })
	g.Go(func() error { return httpserver.ListenAndServe(gctx, cfg.HTTPAddr, handler, opts) })
	g.Go(func() error { fetches.Run(gctx); return nil })
	g.Go(func() error {
		keys.Run(gctx, func(err error) { logger.Warn("API key refresh failed; keeping the last keys", "error", err) })
		return nil
	})
	probe.SetReady()
	logger.Info("ready", "http", cfg.HTTPAddr, "ops", cfg.OpsAddr, "iot_endpoint", endpoint)
	err = g.Wait()
	logger.Info("stopped")
	return err
}

// newOnboarding builds the use case on DynamoDB and KMS, behind the short
// answer cache unless CACHE_TTL is 0.
func newOnboarding(cfg Config, awsCfg aws.Config, store app.Store, endpoint, rootCA string, m *Metrics) (ports.Onboarder, error) {
	o := app.New(
		store,
		keyseal.NewOpener(kms.NewFromConfig(awsCfg), cfg.KMSKeyID),
		endpoint, rootCA,
	).InKeyMode(cfg.KeyMode)
	if cfg.CacheTTL == 0 {
		return o, nil
	}
	return app.NewCached(o, cfg.CacheSize, cfg.CacheTTL, m.CacheResult)
}

// enrolPoll is the first interval between two reads of a SIM's record
// while its enrolment is made (it doubles up to a quarter second).
const enrolPoll = 50 * time.Millisecond

// newEnrolment builds enrolment: enrol commands to the provisioner's queue
// (none without CREATE_QUEUE: every enrolment is then refused), the SIM's
// record followed until it names the certificate.
func newEnrolment(cfg Config, awsCfg aws.Config, store app.RecordStore, endpoint, rootCA string, logger *slog.Logger) (*app.Enrolment, error) {
	var commands app.Commands
	if cfg.CreateQueue != "" {
		q, err := adapters.NewCommandQueue(awsCfg, cfg.CreateQueue, logger)
		if err != nil {
			return nil, err
		}
		commands = q
	}
	return app.NewEnrolment(store, commands, app.EnrolOptions{KeyMode: cfg.KeyMode, Limits: cfg.enrolLimits(),
		Wait: cfg.EnrolWait, Poll: enrolPoll, Endpoint: endpoint, RootCA: rootCA})
}

// rootCA is the root CA served in CSV answers: the built-in copy unless
// ROOT_CA_FILE replaces it.
func rootCA(file string) (string, error) {
	if file == "" {
		return app.AmazonRootCA1, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("ROOT_CA_FILE: %w", err)
	}
	return string(b), nil
}
