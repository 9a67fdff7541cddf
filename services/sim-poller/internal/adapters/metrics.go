package adapters

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/simbridge/simbridge/libs/metrics"
	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
)

// Metrics are sim-poller's Prometheus series.
type Metrics struct {
	simsByState   *prometheus.GaugeVec
	published     *prometheus.CounterVec
	problems      *prometheus.GaugeVec
	apiRequests   *prometheus.CounterVec
	apiRetries    *prometheus.CounterVec
	runs          *prometheus.CounterVec
	runDuration   prometheus.Histogram
	lastSuccess   prometheus.Gauge
	guardRefusals prometheus.Counter
}

// NewMetrics registers the series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	ns, sub := metrics.Namespace, "sim_poller"
	m := &Metrics{
		simsByState: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "sims",
			Help: "SIMs by state at the last run: listed (1NCE), store_active, store_inactive, unchanged."}, []string{"state"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "changes_published_total",
			Help: "Commands published, by kind (create, update, disable)."}, []string{"kind"}),
		problems: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "skipped_sims",
			Help: "SIMs skipped at the last run, by reason (no_ip, invalid_ip, duplicate_iccid, ip_conflict, ...)."}, []string{"reason"}),
		apiRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "api_requests_total",
			Help: "1NCE Management API requests by endpoint and status."}, []string{"endpoint", "status"}),
		apiRetries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "api_retries_total",
			Help: "1NCE Management API retries by endpoint and reason."}, []string{"endpoint", "reason"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "runs_total",
			Help: "Sync runs by result (success, failure)."}, []string{"result"}),
		runDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "run_duration_seconds",
			Help: "Duration of sync runs.", Buckets: prometheus.ExponentialBuckets(0.5, 2, 12)}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "last_success_timestamp_seconds",
			Help: "Unix time of the last run whose listing was complete and whose commands were all published."}),
		guardRefusals: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "guard_refusals_total",
			Help: "Runs whose disables the mass-disable guard withheld."}),
	}
	reg.MustRegister(m.simsByState, m.published, m.problems, m.apiRequests, m.apiRetries, m.runs, m.runDuration, m.lastSuccess, m.guardRefusals)
	return m
}

// Request counts a 1NCE API exchange (onceapi.Observer).
func (m *Metrics) Request(endpoint, status string) {
	m.apiRequests.WithLabelValues(endpoint, status).Inc()
}

// Retry counts a 1NCE API retry (onceapi.Observer).
func (m *Metrics) Retry(endpoint, reason string) {
	m.apiRetries.WithLabelValues(endpoint, reason).Inc()
}

// Run records a finished run.
func (m *Metrics) Run(sum app.Summary, err error) {
	m.runDuration.Observe(sum.DurationSeconds)
	for kind, n := range sum.Published {
		m.published.WithLabelValues(kind).Add(float64(n))
	}
	m.problems.Reset()
	for reason, n := range sum.Problems {
		m.problems.WithLabelValues(reason).Set(float64(n))
	}
	m.simsByState.WithLabelValues("listed").Set(float64(sum.Listed))
	m.simsByState.WithLabelValues("unchanged").Set(float64(sum.Unchanged))
	m.simsByState.WithLabelValues("store_active").Set(float64(sum.StoreActive))
	m.simsByState.WithLabelValues("store_inactive").Set(float64(sum.StoreInactive))
	if sum.GuardRefused {
		m.guardRefusals.Inc()
	}
	if err != nil {
		m.runs.WithLabelValues("failure").Inc()
		return
	}
	m.runs.WithLabelValues("success").Inc()
	m.lastSuccess.Set(float64(sum.StartedAt.Add(time.Duration(sum.DurationSeconds * float64(time.Second))).Unix()))
}

// Syncer is the use case being measured.
type Syncer interface {
	Sync(ctx context.Context, force bool) (app.Summary, error)
}

// MeasuredSyncer records every run's outcome in Metrics.
type MeasuredSyncer struct {
	Next    Syncer
	Metrics *Metrics
}

// Sync runs Next and records the outcome, except for runs refused because
// another one is in progress.
func (s MeasuredSyncer) Sync(ctx context.Context, force bool) (app.Summary, error) {
	sum, err := s.Next.Sync(ctx, force)
	if err != app.ErrRunInProgress {
		s.Metrics.Run(sum, err)
	}
	return sum, err
}
