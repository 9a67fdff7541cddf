package ports

import (
	"log/slog"
	"time"

	"github.com/labstack/echo/v4"
)

// Request-scoped values the handler leaves for the access log.
const (
	formatKey   = "format"
	outcomeKey  = "outcome"
	deviceIPKey = "device_ip"
)

// RequestObserver hears every answered request with its status code, the
// answer's format (json, csv, none) and how long it took, so the service
// can count requests without the HTTP port knowing how.
type RequestObserver interface {
	ObserveRequest(code int, format string, took time.Duration)
}

// noObserver is the observer when nobody listens.
type noObserver struct{}

func (noObserver) ObserveRequest(int, string, time.Duration) {}

// observe logs every request once, with its request id, and reports it to o.
// The device IP is logged; credentials and keys never are.
func observe(o RequestObserver, logger *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			if err := next(c); err != nil {
				c.Error(err)
			}
			took := time.Since(start)
			format := label(c, formatKey, "none")
			o.ObserveRequest(c.Response().Status, format, took)
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
