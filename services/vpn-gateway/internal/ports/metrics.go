package ports

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/simbridge/simbridge/libs/metrics"
)

// Metrics are the gateway's request series.
type Metrics struct {
	requests *prometheus.CounterVec
	rejected *prometheus.CounterVec
	latency  prometheus.Histogram
}

// NewMetrics registers the series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "vpn_gateway",
			Name: "requests_total", Help: "Device requests by status code."}, []string{"code"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "vpn_gateway",
			Name: "rejected_total", Help: "Device requests refused by the gateway itself, by reason."}, []string{"reason"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: metrics.Namespace, Subsystem: "vpn_gateway",
			Name: "request_duration_seconds", Help: "Device request latency through the gateway.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}}),
	}
	reg.MustRegister(m.requests, m.rejected, m.latency)
	return m
}

// observe gives every request an id (sent upstream and back to the device),
// then logs and counts it once.
func (m *Metrics) observe(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := uuid.NewString()
		w.Header().Set(requestIDHeader, id)
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, id))
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		took := time.Since(start)
		m.requests.WithLabelValues(strconv.Itoa(rec.code)).Inc()
		m.latency.Observe(took.Seconds())
		logger.Info("request", "request_id", id, "device_ip", PeerIP(r.RemoteAddr), "method", r.Method,
			"path", r.URL.Path, "range", r.Header.Get("Range"), "status", rec.code, "duration_ms", float64(took.Microseconds())/1000)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
