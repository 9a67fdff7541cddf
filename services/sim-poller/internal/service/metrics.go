package service

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/simbridge/simbridge/libs/lease"
	"github.com/simbridge/simbridge/libs/messaging"
	"github.com/simbridge/simbridge/libs/metrics"
	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
)

// Metrics is every Prometheus series sim-poller exports, declared in one
// place so the alarms and dashboards (checked against the code by
// tests/deploy) have one file to agree with. The use cases, ports and
// adapters never see Prometheus: they report to the small observers they
// declare (onceapi.Observer, ports.RequestObserver, ports.StreamObserver,
// adapters.LookupObserver, messaging.ConsumerObserver), which Metrics and
// its parts implement, and full runs are measured by measuredSyncer.
type Metrics struct {
	// consumer counts the sync-request queue's retries and dead letters.
	consumer *messaging.ConsumerMetrics

	simsByState   *prometheus.GaugeVec
	published     *prometheus.CounterVec
	skipped       *prometheus.GaugeVec
	apiRequests   *prometheus.CounterVec
	apiRetries    *prometheus.CounterVec
	runs          *prometheus.CounterVec
	failures      *prometheus.CounterVec
	runDuration   prometheus.Histogram
	lastSuccess   prometheus.Gauge
	guardRefusals prometheus.Counter
	drift         prometheus.Counter
	requests      *prometheus.CounterVec
	lookups       *prometheus.CounterVec
	streamReqs    *prometheus.CounterVec
	streamRecs    *prometheus.CounterVec
	storeUnits    prometheus.Counter
	storeItems    prometheus.Counter
	firstCommand  prometheus.Gauge
	hintsDropped  *prometheus.CounterVec
}

// newMetrics registers every series on reg.
func newMetrics(reg prometheus.Registerer) *Metrics {
	ns, sub := metrics.Namespace, "sim_poller"
	m := &Metrics{
		consumer: messaging.NewConsumerMetrics(reg, "sim_poller_sync_requests"),
		simsByState: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "sims",
			Help: "SIMs by state at the last run: listed, listed_enabled, listed_disabled (1NCE), store_active, store_inactive, unchanged, " +
				"absent (active but not listed), drift (absent but Enabled per the single-SIM endpoint, kept), unconfirmed (absent, not confirmed either way, kept)."}, []string{"state"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "changes_published_total",
			Help: "Commands published, by kind (create, update, disable)."}, []string{"kind"}),
		skipped: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "skipped_sims",
			Help: "SIMs skipped at the last run, by reason: no_ip (expected), invalid_ip, invalid_iccid, invalid_status, duplicate_iccid, ip_conflict (invalid data)."}, []string{"reason"}),
		apiRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "api_requests_total",
			Help: "1NCE Management API requests by endpoint and status (HTTP status, error, invalid_json)."}, []string{"endpoint", "status"}),
		apiRetries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "api_retries_total",
			Help: "1NCE Management API retries by endpoint and reason."}, []string{"endpoint", "reason"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "runs_total",
			Help: "Sync runs by result: success, failure (including guard refusals and incomplete listings), skipped (another run held the lock or lease)."}, []string{"result"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "run_failures_total",
			Help: "Failed runs by cause: credentials, listing_incomplete, invalid_json, guard_refused, confirmation_failed, " +
				"lease_lost, interrupted (shutdown), timeout (SYNC_TIMEOUT), other."}, []string{"cause"}),
		runDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "run_duration_seconds",
			Help: "Duration of sync runs.", Buckets: prometheus.ExponentialBuckets(0.5, 2, 12)}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "last_success_timestamp_seconds",
			Help: "Unix time of the last successful run: complete listing, absent SIMs confirmed, guard passed, every command published."}),
		guardRefusals: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "guard_refusals_total",
			Help: "Runs whose disables the mass-disable guard withheld."}),
		drift: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "listing_drift_total",
			Help: "Active SIMs a complete listing missed although the single-SIM endpoint says they are Enabled (kept, re-checked next run)."}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "sync_requests_total",
			Help: "Sync requests from the queue that ended, by source (operator, datastreamer), kind (full, targeted, and the dry runs lookup and full-dry-run) and status (done, failed)."},
			[]string{"source", "kind", "status"}),
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "hint_lookups_total",
			Help: "Single-SIM lookups of targeted syncs by outcome: asked (a GET /v1/sims/{iccid}), shared (served by another caller's question)."},
			[]string{"outcome"}),
		streamReqs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "stream_requests_total",
			Help: "Data Streamer requests answered, by HTTP status (200 enqueued, 400 malformed, 401 credentials, 413 too large, 503 not enqueued: 1NCE retries)."},
			[]string{"code"}),
		streamRecs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "stream_records_total",
			Help: "Data Streamer records by outcome: relevant (SIM enqueued for a lookup), usage, irrelevant (event type), invalid (no valid ICCID)."},
			[]string{"outcome"}),
		storeUnits: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "store_read_units_total",
			Help: "DynamoDB read capacity units the full syncs' scans of the SIM summary index consumed (ConsumedCapacity); " +
				"× 8192 / store_read_items_total is the bytes read per SIM (eventually consistent reads: 8 KB a unit)."}),
		storeItems: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "store_read_items_total",
			Help: "SIM summaries the full syncs' scans read."}),
		firstCommand: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "first_command_seconds",
			Help: "Seconds from the start of the last run that published anything to its first command (commands leave while 1NCE is listing)."}),
		hintsDropped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "hints_dropped_total",
			Help: "Data Streamer hints left without a 1NCE lookup, by reason: quiet (a data session of a SIM active at that IP), " +
				"unknown_bounded (no record, over HINT_UNKNOWN_PER_BATCH or _PER_MINUTE), recently_gone (1NCE said it does not hold the SIM)."},
			[]string{"reason"}),
	}
	reg.MustRegister(m.simsByState, m.published, m.skipped, m.apiRequests, m.apiRetries, m.runs, m.failures,
		m.runDuration, m.lastSuccess, m.guardRefusals, m.drift, m.requests, m.lookups, m.streamReqs, m.streamRecs,
		m.storeUnits, m.storeItems, m.firstCommand, m.hintsDropped)
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

// StoreRead counts one scanned page of the SIM summary index
// (simstore.Dynamo.OnRead).
func (m *Metrics) StoreRead(units float64, items int) {
	m.storeUnits.Add(units)
	m.storeItems.Add(float64(items))
}

// HintDropped counts hints Triage dropped (app.Triage.Observe).
func (m *Metrics) HintDropped(reason string, n int) {
	m.hintsDropped.WithLabelValues(reason).Add(float64(n))
}

// Run records a finished run.
func (m *Metrics) Run(sum app.Summary, err error) {
	m.runDuration.Observe(sum.DurationSeconds)
	if sum.FirstCommandSeconds > 0 {
		m.firstCommand.Set(sum.FirstCommandSeconds)
	}
	for kind, n := range sum.Published {
		m.published.WithLabelValues(kind).Add(float64(n))
	}
	m.skipped.Reset()
	for reason, n := range sum.Problems {
		m.skipped.WithLabelValues(reason).Set(float64(n))
	}
	for state, n := range map[string]int{
		"listed": sum.Listed, "listed_enabled": sum.Enabled, "listed_disabled": sum.Disabled, "unchanged": sum.Unchanged,
		"store_active": sum.StoreActive, "store_inactive": sum.StoreInactive,
		"absent": sum.Absent, "drift": sum.Drift, "unconfirmed": sum.Unconfirmed,
	} {
		m.simsByState.WithLabelValues(state).Set(float64(n))
	}
	if sum.GuardRefused {
		m.guardRefusals.Inc()
	}
	m.drift.Add(float64(sum.Drift))
	if err != nil {
		m.runs.WithLabelValues("failure").Inc()
		m.failures.WithLabelValues(causeOf(err)).Inc()
		return
	}
	m.runs.WithLabelValues("success").Inc()
	m.lastSuccess.Set(float64(sum.StartedAt.Add(time.Duration(sum.DurationSeconds * float64(time.Second))).Unix()))
}

// SyncRequest counts a sync request that ended (ports.RequestObserver).
func (m *Metrics) SyncRequest(source, kind, status string) {
	m.requests.WithLabelValues(source, kind, status).Inc()
}

// Lookup counts a targeted sync's lookup (adapters.LookupObserver).
func (m *Metrics) Lookup(outcome string) { m.lookups.WithLabelValues(outcome).Inc() }

// StreamRequest counts an answered Data Streamer request (ports.StreamObserver).
func (m *Metrics) StreamRequest(code int) { m.streamReqs.WithLabelValues(strconv.Itoa(code)).Inc() }

// StreamRecords counts Data Streamer records by outcome (ports.StreamObserver).
func (m *Metrics) StreamRecords(outcome string, n int) {
	m.streamRecs.WithLabelValues(outcome).Add(float64(n))
}

// Skipped records a run refused because another one was in progress.
func (m *Metrics) Skipped() { m.runs.WithLabelValues("skipped").Inc() }

// causeOf names why a run failed, for the failure metric; when several
// things went wrong, the first that applies in this order names it.
func causeOf(err error) string {
	switch {
	case errors.Is(err, lease.ErrLost):
		return "lease_lost"
	case errors.Is(err, app.ErrInterrupted) && errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, app.ErrInterrupted):
		return "interrupted"
	case errors.Is(err, onceapi.ErrBadCredentials):
		return "credentials"
	case errors.Is(err, onceapi.ErrIncomplete):
		return "listing_incomplete"
	case errors.Is(err, onceapi.ErrInvalidResponse):
		return "invalid_json"
	case errors.Is(err, app.ErrGuardRefused):
		return "guard_refused"
	case errors.Is(err, app.ErrUnconfirmed):
		return "confirmation_failed"
	default:
		return "other"
	}
}

// measuredSyncer records every full run's outcome: the use case reports
// nothing itself (a decorator, as for every metric of a use case).
type measuredSyncer struct {
	next    *app.Syncer
	metrics *Metrics
}

// Plan runs a full dry run: no run to measure, nothing changed.
func (s measuredSyncer) Plan(ctx context.Context) (app.Summary, error) { return s.next.Plan(ctx) }

// Sync runs the full sync and records the outcome.
func (s measuredSyncer) Sync(ctx context.Context, force bool) (app.Summary, error) {
	sum, err := s.next.Sync(ctx, force)
	if errors.Is(err, app.ErrRunInProgress) {
		s.metrics.Skipped()
		return sum, err
	}
	s.metrics.Run(sum, err)
	return sum, err
}
