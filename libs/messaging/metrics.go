package messaging

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/metrics"
)

// CommandMetrics are a consumer's own series: commands handled by kind and
// result, latency, work in flight and failures by step.
type CommandMetrics struct {
	handled  *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	failures *prometheus.CounterVec
}

// NewCommandMetrics registers the series under the service's subsystem.
func NewCommandMetrics(reg prometheus.Registerer, subsystem string) *CommandMetrics {
	ns, sub := metrics.Namespace, metricName(subsystem)
	m := &CommandMetrics{
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "commands_total",
			Help: "Commands handled, by kind (create, update, disable) and result (success, failure)."}, []string{"kind", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "command_duration_seconds",
			Help: "Time to handle one command, by kind.", Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"kind"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "in_flight",
			Help: "Commands being handled now."}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "failures_total",
			Help: "Failed attempts by step."}, []string{"step"}),
	}
	reg.MustRegister(m.handled, m.duration, m.inFlight, m.failures)
	return m
}

// Measure wraps a command handler with the metrics.
func (m *CommandMetrics) Measure(next CommandFunc) CommandFunc {
	return func(ctx context.Context, cmd events.SimCommand) error {
		m.inFlight.Inc()
		defer m.inFlight.Dec()
		start := time.Now()
		err := next(ctx, cmd)
		m.duration.WithLabelValues(string(cmd.Kind)).Observe(time.Since(start).Seconds())
		result := "success"
		if err != nil {
			result = "failure"
			m.failures.WithLabelValues(stepOf(err)).Inc()
		}
		m.handled.WithLabelValues(string(cmd.Kind), result).Inc()
		return err
	}
}
