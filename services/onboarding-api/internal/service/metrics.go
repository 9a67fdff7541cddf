package service

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/simbridge/simbridge/libs/metrics"
)

// Metrics is every series onboarding-api exports: requests and their
// latency by code and format (the OnboardingErrors and OnboardingSlow alarms
// watch them), cache hits and misses, enrolments by result (the
// EnrolmentsUnusual alarm), and AWS calls. tests/deploy checks the
// alarms against what the code defines. The HTTP port and the cache report
// through the observers they declare and never import Prometheus.
type Metrics struct {
	// AWS times DynamoDB Query and KMS Decrypt on the hot path (and every
	// other call), labelled as in the other services.
	AWS *metrics.AWSCalls

	requests   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	cache      *prometheus.CounterVec
	enrolments *prometheus.CounterVec
}

// newMetrics registers every series on reg.
func newMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		AWS: metrics.NewAWSCalls(reg),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "onboarding_api",
			Name: "requests_total", Help: "Requests by status code and format (json, csv, none)."}, []string{"code", "format"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metrics.Namespace, Subsystem: "onboarding_api",
			Name: "request_duration_seconds", Help: "Request latency by status code and format.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}}, []string{"code", "format"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "onboarding_api",
			Name: "cache_lookups_total", Help: "Credential lookups by cache result (hit, miss, shared)."}, []string{"result"}),
	}
	m.enrolments = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "onboarding_api",
		Name: "enrolments_total", Help: "Enrolment requests by result (issued, existing, pending, bad_request, rate_limited, key_retired, key_mode, not_found, device_gone, error); the EnrolmentsUnusual alarm watches them."},
		[]string{"result"})
	reg.MustRegister(m.requests, m.latency, m.cache, m.enrolments)
	return m
}

// ObserveRequest counts one answered request (ports.RequestObserver).
func (m *Metrics) ObserveRequest(code int, format string, took time.Duration) {
	c := strconv.Itoa(code)
	m.requests.WithLabelValues(c, format).Inc()
	m.latency.WithLabelValues(c, format).Observe(took.Seconds())
}

// ObserveEnrolment counts one enrolment request by result
// (ports.EnrolmentObserver).
func (m *Metrics) ObserveEnrolment(result string) { m.enrolments.WithLabelValues(result).Inc() }

// CacheResult counts one cache lookup; it is the cache's observer.
func (m *Metrics) CacheResult(result string) { m.cache.WithLabelValues(result).Inc() }
