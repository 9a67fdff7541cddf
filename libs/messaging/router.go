package messaging

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/components/metrics"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/prometheus/client_golang/prometheus"
)

// Logger adapts slog to Watermill, with Watermill's chatty info logs lowered
// to debug.
func Logger(l *slog.Logger) watermill.LoggerAdapter {
	return watermill.NewSlogLoggerWithLevelMapping(l, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug})
}

// NewRouter returns a Watermill router that recovers handler panics, exports
// handler metrics to reg, and waits up to closeTimeout for in-flight messages
// when it stops.
func NewRouter(logger watermill.LoggerAdapter, reg prometheus.Registerer, closeTimeout time.Duration) (*message.Router, error) {
	r, err := message.NewRouter(message.RouterConfig{CloseTimeout: closeTimeout}, logger)
	if err != nil {
		return nil, fmt.Errorf("watermill router: %w", err)
	}
	r.AddMiddleware(middleware.Recoverer)
	metrics.NewPrometheusMetricsBuilder(reg, "simbridge", "").AddPrometheusRouterMetrics(r)
	return r, nil
}
