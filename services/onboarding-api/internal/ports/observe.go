package ports

import (
	"log/slog"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/simbridge/simbridge/libs/metrics"
)

// Request-scoped values the handler leaves for the access log.
const (
	formatKey   = "format"
	outcomeKey  = "outcome"
	deviceIPKey = "device_ip"
)

// Metrics are onboarding-api's request series.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	cache    *prometheus.CounterVec
}

// NewMetrics registers the series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "onboarding_api",
			Name: "requests_total", Help: "Requests by status code and format (json, csv, none)."}, []string{"code", "format"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metrics.Namespace, Subsystem: "onboarding_api",
			Name: "request_duration_seconds", Help: "Request latency by status code and format.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}}, []string{"code", "format"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "onboarding_api",
			Name: "cache_lookups_total", Help: "Credential lookups by cache result (hit, miss, shared)."}, []string{"result"}),
	}
	reg.MustRegister(m.requests, m.latency, m.cache)
	return m
}

// CacheResult counts one cache lookup; it is the cache's observer.
func (m *Metrics) CacheResult(result string) { m.cache.WithLabelValues(result).Inc() }

// observe logs every request once, with its request id, and records metrics.
// The device IP is logged; credentials and keys never are.
func observe(m *Metrics, logger *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			if err := next(c); err != nil {
				c.Error(err)
			}
			took := time.Since(start)
			code, format := strconv.Itoa(c.Response().Status), label(c, formatKey, "none")
			m.requests.WithLabelValues(code, format).Inc()
			m.latency.WithLabelValues(code, format).Observe(took.Seconds())
			logger.Info("request", "request_id", c.Response().Header().Get(echo.HeaderXRequestID),
				"method", c.Request().Method, "path", c.Request().URL.Path, "device_ip", label(c, deviceIPKey, ""),
				"range", c.Request().Header.Get("Range"), "status", c.Response().Status, "format", format,
				"outcome", label(c, outcomeKey, ""), "bytes", c.Response().Size, "duration_ms", float64(took.Microseconds())/1000)
			return nil
		}
	}
}

func label(c echo.Context, key, def string) string {
	if v, ok := c.Get(key).(string); ok && v != "" {
		return v
	}
	return def
}
