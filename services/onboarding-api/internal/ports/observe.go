package ports

import (
	"log/slog"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/simbridge/simbridge/libs/metrics"
)

const formatKey = "format"

// Metrics are onboarding-api's request series.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewMetrics registers the series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "onboarding_api",
			Name: "requests_total", Help: "Requests by status code and format (json, csv, none)."}, []string{"code", "format"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metrics.Namespace, Subsystem: "onboarding_api",
			Name: "request_duration_seconds", Help: "Request latency by status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}}, []string{"code"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

// observe logs every request once, with its request id, and records metrics.
// The device IP is logged; credentials and keys never are.
func observe(m *Metrics, logger *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			code := strconv.Itoa(c.Response().Status)
			format, _ := c.Get(formatKey).(string)
			if format == "" {
				format = "none"
			}
			m.requests.WithLabelValues(code, format).Inc()
			m.latency.WithLabelValues(code).Observe(time.Since(start).Seconds())
			logger.Info("request", "request_id", c.Response().Header().Get(echo.HeaderXRequestID),
				"method", c.Request().Method, "path", c.Request().URL.Path, "status", c.Response().Status,
				"format", format, "bytes", c.Response().Size, "duration_ms", time.Since(start).Milliseconds())
			return nil
		}
	}
}
