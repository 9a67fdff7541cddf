// Package adapters holds the deactivator's Prometheus metrics.
package adapters

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/metrics"
)

// Metrics are the deactivator's own Prometheus series.
type Metrics struct {
	handled  *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

// NewMetrics registers the series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	ns, sub := metrics.Namespace, "deactivator"
	m := &Metrics{
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "commands_total",
			Help: "Commands handled, by kind (disable) and result (success, failure)."}, []string{"kind", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "command_duration_seconds",
			Help: "Time to handle one command, by kind.", Buckets: prometheus.DefBuckets}, []string{"kind"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "in_flight",
			Help: "Commands being handled now."}),
	}
	reg.MustRegister(m.handled, m.duration, m.inFlight)
	return m
}

// Measure wraps a command handler with the metrics.
func (m *Metrics) Measure(next func(context.Context, events.SimCommand) error) func(context.Context, events.SimCommand) error {
	return func(ctx context.Context, cmd events.SimCommand) error {
		m.inFlight.Inc()
		defer m.inFlight.Dec()
		start := time.Now()
		err := next(ctx, cmd)
		m.duration.WithLabelValues(string(cmd.Kind)).Observe(time.Since(start).Seconds())
		result := "success"
		if err != nil {
			result = "failure"
		}
		m.handled.WithLabelValues(string(cmd.Kind), result).Inc()
		return err
	}
}
