package messaging

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/simbridge/simbridge/libs/config"
	"github.com/simbridge/simbridge/libs/httpserver"
	"github.com/simbridge/simbridge/libs/metrics"
	"github.com/simbridge/simbridge/libs/quota"
)

// ConsumerOptions describe a queue-consuming service.
type ConsumerOptions struct {
	// Name prefixes handler names and metrics (e.g. "provisioner").
	Name  string
	Queue string
	// Workers is how many messages (of different SIMs) are handled at once.
	Workers int
	// Lanes are more queues the same handler serves, each on workers of its
	// own: commands that are quick to carry out (the provisioner's IP moves)
	// never wait behind slow ones of other SIMs.
	Lanes []Lane
	// OpsAddr serves /metrics, /healthz and /readyz.
	OpsAddr string
	// ShutdownTimeout bounds how long in-flight messages may finish after ctx ends.
	ShutdownTimeout time.Duration
	AWS             aws.Config
	Notifier        FailureNotifier
	Registry        *prometheus.Registry
	Logger          *slog.Logger
	// Prepare, when set, runs after the ops listener is up and before the
	// first message is received (a dependency that may appear later, such as
	// the IoT CA after the first deploy); until it returns the task is live
	// but not ready, and its messages wait in the queue.
	Prepare func(ctx context.Context) error
	// Failures, when set, records failed attempts on the SIMs' records.
	Failures FailureRecorder
	// Quotas, when set, is the task's membership in the account-wide quota
	// pool: it beats once before the first message and then runs alongside.
	Quotas *quota.Shared
	// Observer counts retries and dead-letters (the service's
	// NewConsumerMetrics, declared with its other metrics); nil registers
	// NewConsumerMetrics(Registry, Name).
	Observer ConsumerObserver
}

// Lane is one more queue of a consumer, on workers of its own.
type Lane struct {
	// Name tells the lane's handlers apart (e.g. "update").
	Name    string
	Queue   string
	Workers int
}

// RunConsumers runs handler on the queue's messages with opts.Workers
// workers, each behind the queue's failure policy (Consumer.Middleware), and
// serves the ops listener until ctx ends; then it stops receiving, hands
// back what it received but did not start, lets in-flight messages finish
// and returns nil, all within ShutdownTimeout. Readiness turns true once
// every worker receives.
func RunConsumers(ctx context.Context, opts ConsumerOptions, handler message.NoPublishHandlerFunc) error {
	router, sub, err := NewConsumerRouter(opts.AWS, opts.Logger, opts.Registry, opts.ShutdownTimeout)
	if err != nil {
		return err
	}
	obs := opts.Observer
	if obs == nil {
		obs = NewConsumerMetrics(opts.Registry, opts.Name)
	}
	lanes := append([]Lane{{Queue: opts.Queue, Workers: opts.Workers}}, opts.Lanes...)
	for _, lane := range lanes {
		consumer, err := NewConsumer(ctx, awssqs.NewFromConfig(opts.AWS), lane.Queue, opts.Notifier, obs, opts.Logger)
		if err != nil {
			return err
		}
		consumer.Failures = opts.Failures
		name := opts.Name
		if lane.Name != "" {
			name += "-" + lane.Name
		}
		consumer.AddWorkers(router, name, sub, lane.Workers, handler)
		opts.Logger.Info("consuming", "queue", lane.Queue, "workers", lane.Workers, "max_receives", consumer.MaxReceives())
	}
	probe := metrics.NewProbe()
	g, gctx := errgroup.WithContext(ctx)
	if opts.Quotas != nil {
		opts.Quotas.Beat(ctx)
		g.Go(func() error { opts.Quotas.Run(gctx); return nil })
	}
	g.Go(func() error {
		return metrics.Serve(gctx, opts.OpsAddr, opts.Registry, probe, httpserver.Options{ShutdownTimeout: opts.ShutdownTimeout})
	})
	g.Go(func() error {
		if opts.Prepare != nil {
			if err := opts.Prepare(gctx); err != nil {
				if gctx.Err() != nil {
					return nil // stopped while waiting: a clean shutdown
				}
				return err
			}
		}
		if err := router.Run(gctx); err != nil {
			return fmt.Errorf("consume %s: %w", opts.Queue, err)
		}
		return nil
	})
	g.Go(func() error {
		select {
		case <-router.Running():
			probe.SetReady()
			opts.Logger.Info("ready", "queue", opts.Queue, "workers", opts.Workers, "lanes", len(opts.Lanes))
		case <-gctx.Done():
		}
		return nil
	})
	return g.Wait()
}

// ConsumerMetrics count retries and dead-letters (ConsumerObserver).
type ConsumerMetrics struct {
	retries *prometheus.CounterVec
	dlq     *prometheus.CounterVec
}

// NewConsumerMetrics registers the series under the service's subsystem.
func NewConsumerMetrics(reg prometheus.Registerer, subsystem string) *ConsumerMetrics {
	m := &ConsumerMetrics{
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: metricName(subsystem),
			Name: "retries_total", Help: "Failed attempts made visible again for a retry, by failed step."}, []string{"step"}),
		dlq: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: metricName(subsystem),
			Name: "dlq_sends_total", Help: "Messages moved to the dead-letter queue, by reason (malformed, exhausted) and failed step."}, []string{"reason", "step"}),
	}
	reg.MustRegister(m.retries, m.dlq)
	return m
}

// Retried counts a retry.
func (m *ConsumerMetrics) Retried(step string) { m.retries.WithLabelValues(step).Inc() }

// DeadLettered counts a DLQ send.
func (m *ConsumerMetrics) DeadLettered(reason, step string) {
	m.dlq.WithLabelValues(reason, step).Inc()
}

func metricName(s string) string {
	out := []byte(s)
	for i, c := range out {
		if c == '-' {
			out[i] = '_'
		}
	}
	return string(out)
}

// ConsumerConfig is a consumer service's configuration: an env-tagged
// struct embedding ConsumerSettings (whose LoadAWS it gets).
type ConsumerConfig interface {
	LoadAWS(ctx context.Context, ops []string, reg prometheus.Registerer, logger *slog.Logger) (AWS, error)
}

// ServiceMetrics is a service's metrics: what it defines, on the registry
// the ops listener serves.
type ServiceMetrics interface {
	Registry() *prometheus.Registry
}

// Main is the Run of every queue-consuming service: it loads the
// configuration C from the environment (config.Start), the service's
// metrics (newMetrics) and the AWS configuration whose IoT operations (ops)
// wait for the task's share of the account's quotas, then serves until ctx
// ends. Component tests call serve directly with their own AWS setup.
func Main[C ConsumerConfig, M ServiceMetrics](ctx context.Context, logger *slog.Logger, ops []string,
	newMetrics func(*prometheus.Registry) M, serve func(context.Context, C, AWS, M, *slog.Logger) error) error {
	var cfg C
	if err := config.Start(ctx, &cfg, logger); err != nil {
		return err
	}
	m := newMetrics(metrics.NewRegistry())
	a, err := cfg.LoadAWS(ctx, ops, m.Registry(), logger)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, a, m, logger)
}
