package service

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"
	"golang.org/x/sync/errgroup"

	"github.com/simbridge/simbridge/libs/awsx"
	"github.com/simbridge/simbridge/libs/config"
	"github.com/simbridge/simbridge/libs/httpserver"
	"github.com/simbridge/simbridge/libs/lease"
	"github.com/simbridge/simbridge/libs/messaging"
	"github.com/simbridge/simbridge/libs/metrics"
	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/secrets"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/services/sim-poller/internal/adapters"
	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
	"github.com/simbridge/simbridge/services/sim-poller/internal/ports"
)

// leaseName is the lease every replica's runs share.
const leaseName = "sim-poller-sync"

// Run reads the configuration and AWS settings from the environment and
// serves until ctx ends or a server fails.
func Run(ctx context.Context, logger *slog.Logger) error {
	var cfg Config
	if err := config.Start(ctx, &cfg, logger); err != nil {
		return err
	}
	awsCfg, err := awsx.Load(ctx)
	if err != nil {
		return err
	}
	p, err := New(ctx, cfg, awsCfg, logger)
	if err != nil {
		return err
	}
	return p.Serve(ctx)
}

// Poller is sim-poller assembled: the use case, its HTTP API and schedule.
// Component tests build it with their own resources and simulator.
type Poller struct {
	cfg      Config
	schedule cron.Schedule
	logger   *slog.Logger
	// Syncer is the measured use case; HTTP serves POST /sync with it.
	Syncer   ports.Syncer
	HTTP     http.Handler
	Registry *prometheus.Registry
	probe    *metrics.Probe
	// Requests handles the sync-request queue (operators, Data Streamer).
	Requests *app.Requests
	// Stream is the Data Streamer receiver (nil when STREAM_ADDR is empty).
	Stream      http.Handler
	streamCreds *secrets.Rotating
	metrics     *Metrics
	awsCfg      aws.Config
	consumer    *messaging.Consumer
}

// New builds the poller's clients and use case from cfg and awsCfg.
func New(ctx context.Context, cfg Config, awsCfg aws.Config, logger *slog.Logger) (*Poller, error) {
	schedule, err := ports.ParseSchedule(cfg.SyncSchedule, cfg.SyncInterval)
	if err != nil {
		return nil, err
	}
	password, err := cfg.OncePassword.Resolve(ctx, secretsmanager.NewFromConfig(awsCfg))
	if err != nil {
		return nil, fmt.Errorf("1NCE password: %w", err)
	}
	reg := metrics.NewRegistry()
	m := newMetrics(reg)
	client, err := onceapi.New(onceapi.Config{
		BaseURL: cfg.OnceAPIURL, Username: cfg.OnceUsername, Password: password,
		RateLimit: cfg.OnceRateLimit, PageSize: cfg.OncePageSize, Observer: m,
	})
	if err != nil {
		return nil, err
	}
	once := adapters.OnceInventory{Client: client}
	share := adapters.NewRateShare(cfg.OnceRateLimit, cfg.HintRateShare)
	deps, err := newDeps(cfg, awsCfg, adapters.SharingInventory{Inventory: once, Share: share}, m, logger)
	if err != nil {
		return nil, err
	}
	deps.Lookups = &adapters.SharedLookups{SIMs: once, Window: cfg.HintWindow, Remember: time.Minute, Share: share, Observer: m}
	deps.Listings = &adapters.SharedListing{Inventory: deps.Inventory, Window: listingWindow}
	syncer, err := app.NewSyncer(deps, app.Guard{MaxDisableShare: cfg.MaxDisableShare, DisableAllowance: cfg.DisableAllowance}, cfg.Publishers)
	if err != nil {
		return nil, err
	}
	syncer.Timeout, syncer.SettleTimeout, syncer.PageSize = cfg.SyncTimeout, cfg.SettleTimeout, cfg.OncePageSize
	syncer.ListRate = cfg.OnceRateLimit * (1 - cfg.HintRateShare) // what listing keeps while hints take their share
	measured := measuredSyncer{next: syncer, metrics: m}
	requests, err := app.NewRequests(measured, syncer, adapters.Results{DB: dynamodb.NewFromConfig(awsCfg), Table: cfg.LeaseTable}, cfg.SyncTimeout)
	if err != nil {
		return nil, err
	}
	if requests.Triage, err = app.NewTriage(deps.Records, cfg.HintUnknownPerBatch, cfg.HintUnknownPerMinute, cfg.HintNegativeTTL); err != nil {
		return nil, err
	}
	requests.Triage.Observe = m.HintDropped
	var notifier messaging.FailureNotifier = deps.Notifier
	consumer, err := messaging.NewConsumer(ctx, sqs.NewFromConfig(awsCfg), cfg.SyncQueue, notifier, m.consumer, logger)
	if err != nil {
		return nil, err
	}
	p := &Poller{cfg: cfg, schedule: schedule, logger: logger, Syncer: measured,
		HTTP: ports.NewHTTP(measured, logger), Registry: reg, probe: metrics.NewProbe(),
		Requests: requests, metrics: m, awsCfg: awsCfg, consumer: consumer}
	if cfg.StreamAddr != "" {
		if err := p.newReceiver(ctx); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// listingWindow is how long a targeted listing waits for other requests
// to share it (1NCE sends a burst of changes as several batches).
const listingWindow = 300 * time.Millisecond

// streamSecretGap is the least time between two reads of the Data
// Streamer credentials caused by an unknown pair (a rotation in progress).
const streamSecretGap = 5 * time.Second

// newReceiver builds the Data Streamer receiver: credentials from their
// secret (refreshed for rotation), hints enqueued on the sync queue.
func (p *Poller) newReceiver(ctx context.Context) error {
	cfg := p.cfg
	creds, err := secrets.NewRotating(ctx, cfg.StreamAuth, secretsmanager.NewFromConfig(p.awsCfg), cfg.StreamAuthRefresh, streamSecretGap)
	if err != nil {
		return fmt.Errorf("data streamer credentials: %w", err)
	}
	if _, err := adapters.BasicPair(creds.Current()); err != nil {
		return err
	}
	// The receiver's enqueue runs with a context that ends after
	// StreamEnqueueTimeout, so a stuck send cannot outlive 1NCE's request.
	pub := messaging.NewSQSPublisher(p.awsCfg, p.logger)
	hints, err := app.NewHints(adapters.HintQueue{Pub: pub, Queue: cfg.SyncQueue}, cfg.StreamEventTypes, cfg.StreamQuietEventTypes)
	if err != nil {
		return err
	}
	rc := &ports.Receiver{Path: cfg.StreamPath, Hints: hints, Creds: adapters.StreamCredentials{Secret: creds}, Observer: p.metrics, Logger: p.logger,
		Limits: ports.StreamLimits{MaxBytes: cfg.StreamMaxBytes, MaxRecords: cfg.StreamMaxRecords, MaxDepth: cfg.StreamMaxDepth,
			EnqueueTimeout: cfg.StreamEnqueueTimeout, MaxConcurrent: cfg.StreamMaxConcurrent}}
	p.Stream, p.streamCreds = rc.Handler(), creds
	return nil
}

// newDeps builds the AWS-backed collaborators of the use case.
func newDeps(cfg Config, awsCfg aws.Config, inventory app.Inventory, m *Metrics, logger *slog.Logger) (app.Deps, error) {
	sqsPub := messaging.NewSQSPublisher(awsCfg, logger)
	snsPub := messaging.NewSNSPublisher(awsCfg, logger)
	db := dynamodb.NewFromConfig(awsCfg)
	l, err := lease.New(db, lease.Config{Table: cfg.LeaseTable, Name: leaseName, Owner: owner(), TTL: cfg.LeaseTTL, Logger: logger})
	if err != nil {
		return app.Deps{}, err
	}
	store := simstore.NewDynamo(db, cfg.SimTable)
	store.OnRead = m.StoreRead
	var summaries app.Summaries
	if cfg.SummaryTopicARN != "" {
		summaries = adapters.SummaryTopic{Pub: snsPub, TopicARN: cfg.SummaryTopicARN}
	}
	return app.Deps{
		Summaries: summaries,
		Store:     store,
		Records:   store,
		Inventory: inventory,
		Publisher: adapters.NewCommandPublisher(sqsPub, cfg.CreateQueue, cfg.UpdateQueue, cfg.DisableQueue),
		Notifier:  messaging.NewNotifier(snsPub, "", cfg.FailureTopicARN),
		Lease:     adapters.Lease{Lease: l},
		Conflicts: adapters.Conflicts{DB: db, Table: cfg.LeaseTable},
		Logger:    logger,
	}, nil
}

// requestRouter consumes the sync-request queue with SyncWorkers workers;
// runs stop when stop ends, and requests received but not started, or
// stopped, are handed back to the queue for another replica.
func (p *Poller) requestRouter(stop context.Context) (*message.Router, error) {
	router, sub, err := messaging.NewConsumerRouter(p.awsCfg, p.logger, p.Registry, p.cfg.ShutdownTimeout)
	if err != nil {
		return nil, err
	}
	h := ports.SyncRequests{Runner: p.Requests, Observer: p.metrics, Logger: p.logger, Stop: stop}
	p.consumer.AddWorkers(router, "sync-requests", sub, p.cfg.SyncWorkers, h.Handle)
	return router, nil
}

// owner names this replica in the lease item: host (the ECS task's) and pid.
func owner() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	return fmt.Sprintf("%s/%d", host, os.Getpid())
}

// Serve runs the ops listener, POST /sync and the schedule until ctx ends or
// one of them fails; they stop together. When ctx ends (SIGTERM) a run in
// progress stops publishing, answers a POST /sync in flight with its
// interrupted summary (503) and releases the lease, so Serve returns nil well
// within SHUTDOWN_TIMEOUT and another replica can sync at once.
func (p *Poller) Serve(ctx context.Context) error {
	opts := httpserver.Options{ShutdownTimeout: p.cfg.ShutdownTimeout}
	// POST /sync answers when its run is done, which may take minutes.
	syncOpts := opts
	if p.cfg.SyncTimeout > 0 {
		syncOpts.WriteTimeout = p.cfg.SyncTimeout + 30*time.Second
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return metrics.Serve(gctx, p.cfg.OpsAddr, p.Registry, p.probe, opts) })
	g.Go(func() error {
		return httpserver.ListenAndServe(gctx, p.cfg.HTTPAddr, ports.EndAtShutdown(gctx, p.HTTP), syncOpts)
	})
	g.Go(func() error { return ports.RunSchedule(gctx, p.Syncer, p.schedule, p.cfg.SyncOnStart, p.logger) })
	if p.Stream != nil {
		g.Go(func() error {
			return httpserver.ListenAndServe(gctx, p.cfg.StreamAddr, p.Stream, httpserver.Options{ShutdownTimeout: p.cfg.ShutdownTimeout, ReadTimeout: 30 * time.Second})
		})
		g.Go(func() error {
			p.streamCreds.Run(gctx, func(err error) { p.logger.Warn("data streamer credentials not re-read", "error", err) })
			return nil
		})
	}
	router, err := p.requestRouter(gctx)
	if err != nil {
		return err
	}
	g.Go(func() error {
		if err := router.Run(gctx); err != nil {
			return fmt.Errorf("consume %s: %w", p.cfg.SyncQueue, err)
		}
		return nil
	})
	g.Go(func() error {
		select {
		case <-router.Running():
			p.probe.SetReady()
			p.logger.Info("ready", "http", p.cfg.HTTPAddr, "ops", p.cfg.OpsAddr, "sync_queue", p.cfg.SyncQueue, "stream", p.cfg.StreamAddr)
		case <-gctx.Done():
		}
		return nil
	})
	err = g.Wait()
	p.logger.Info("stopped")
	return err
}
