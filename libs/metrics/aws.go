package metrics

import (
	"errors"
	"time"

	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus"
)

// AWSCalls exports every AWS call a service makes: latency and result per
// operation, and failed attempts (throttled or not) that the SDK retried.
type AWSCalls struct {
	duration *prometheus.HistogramVec
	attempts *prometheus.CounterVec
}

// NewAWSCalls registers the series on reg.
func NewAWSCalls(reg prometheus.Registerer) *AWSCalls {
	m := &AWSCalls{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Subsystem: "aws",
			Name: "call_duration_seconds", Help: "AWS calls by service, operation and result (ok or error code), retries included.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"service", "operation", "result"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "aws",
			Name: "failed_attempts_total", Help: "Failed AWS call attempts by service, operation and kind (throttle, error); retried while attempts remain."},
			[]string{"service", "operation", "kind"}),
	}
	reg.MustRegister(m.duration, m.attempts)
	return m
}

// Call records one call (awsx.CallObserver).
func (m *AWSCalls) Call(service, operation string, took time.Duration, err error) {
	m.duration.WithLabelValues(service, operation, resultOf(err)).Observe(took.Seconds())
}

// AttemptFailed records one failed attempt (awsx.CallObserver).
func (m *AWSCalls) AttemptFailed(service, operation string, throttled bool) {
	kind := "error"
	if throttled {
		kind = "throttle"
	}
	m.attempts.WithLabelValues(service, operation, kind).Inc()
}

func resultOf(err error) string {
	if err == nil {
		return "ok"
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return "error"
}
