// Package ports serves onboarding-api over HTTP: the device onboarding
// endpoint behind API-key authentication, with request ids, logs and metrics.
package ports

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/simbridge/simbridge/services/onboarding-api/internal/app"
)

// Onboarder finds the credentials of the device at an IP.
type Onboarder interface {
	ForIP(ctx context.Context, ip netip.Addr) (app.Credentials, error)
}

// Options configure the HTTP port.
type Options struct {
	// Paths serve the onboarding answer (the first is canonical, the rest aliases).
	Paths []string
	// DeviceIPHeader carries the device IP set by the gateway.
	DeviceIPHeader string
	// APIKeyHeader carries the gateway's API key.
	APIKeyHeader string
	// APIKeys returns the keys accepted now (two while a key is rotated).
	APIKeys func() []string
	Metrics *Metrics
	Logger  *slog.Logger
}

// Messages of error answers.
const (
	msgNotFound     = "No onboarding data found for this device"
	msgUnexpected   = "Unexpected error occurred"
	msgUnauthorized = "Unauthorized"
)

// NewHTTP returns the HTTP handler.
func NewHTTP(o Onboarder, opts Options) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(opts.Logger)
	e.Use(middleware.RequestIDWithConfig(middleware.RequestIDConfig{Generator: uuid.NewString}))
	e.Use(observe(opts.Metrics, opts.Logger))
	e.Use(requireAPIKey(opts.APIKeyHeader, opts.APIKeys))
	h := &onboardingHandler{app: o, ipHeader: opts.DeviceIPHeader}
	for _, p := range opts.Paths {
		e.GET(p, h.serve)
	}
	return e
}

// requireAPIKey rejects requests without one of the accepted keys, comparing
// in constant time so the key cannot be guessed byte by byte.
func requireAPIKey(header string, keys func() []string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			got := []byte(c.Request().Header.Get(header))
			ok := 0
			for _, k := range keys() {
				ok |= subtle.ConstantTimeCompare(got, []byte(k))
			}
			if ok != 1 || len(got) == 0 {
				return c.JSON(http.StatusUnauthorized, map[string]string{"message": msgUnauthorized})
			}
			return next(c)
		}
	}
}

type onboardingHandler struct {
	app      Onboarder
	ipHeader string
}

func (h *onboardingHandler) serve(c echo.Context) error {
	ip, err := netip.ParseAddr(strings.TrimSpace(c.Request().Header.Get(h.ipHeader)))
	if err != nil {
		return c.JSON(http.StatusBadRequest, map[string]string{"message": "missing or invalid device IP"})
	}
	creds, err := h.app.ForIP(c.Request().Context(), ip.Unmap())
	if errors.Is(err, app.ErrNoCredentials) {
		return c.JSON(http.StatusNotFound, map[string]string{"message": msgNotFound})
	}
	if err != nil {
		return err
	}
	format, body := "json", []byte(nil)
	if wantsCSV(c.Request().Header.Get(echo.HeaderAccept)) {
		format, body = "csv", encodeCSV(creds)
		c.Response().Header().Set(echo.HeaderContentType, "text/csv")
	} else if body, err = encodeJSON(creds); err != nil {
		return err
	}
	if format == "json" {
		c.Response().Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	}
	c.Set(formatKey, format)
	c.Response().Header().Set("Cache-Control", "no-store")
	http.ServeContent(c.Response(), c.Request(), "", time.Time{}, bytes.NewReader(body))
	return nil
}

func wantsCSV(accept string) bool {
	return strings.Contains(strings.ToLower(accept), "text/csv")
}

// errorHandler answers every unexpected error with the reference's 500 body
// and the request id, and logs it once.
func errorHandler(logger *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		var he *echo.HTTPError
		if errors.As(err, &he) && he.Code < 500 {
			_ = c.JSON(he.Code, map[string]any{"message": http.StatusText(he.Code)})
			return
		}
		id := c.Response().Header().Get(echo.HeaderXRequestID)
		logger.Error("request failed", "request_id", id, "path", c.Path(), "error", err)
		_ = c.JSON(http.StatusInternalServerError, map[string]string{"message": msgUnexpected, "requestId": id})
	}
}
