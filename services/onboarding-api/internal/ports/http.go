// Package ports serves onboarding-api over HTTP: the device onboarding
// endpoint behind API-key authentication, with request ids, logs and metrics.
package ports

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/simbridge/simbridge/libs/simip"
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
	// APIKeys are the keys accepted now (two while a key is rotated).
	APIKeys KeyRing
	// Observer hears every answered request (nil: nobody).
	Observer RequestObserver
	Logger   *slog.Logger
	// Fetches learns of every answer served (nil: nobody).
	Fetches FetchNoter
	// CertificatePaths take enrolments (POST a CSR), answered by Enroller
	// (nil: no enrolment route); CSRMaxBytes bounds their body.
	CertificatePaths []string
	Enroller         Enroller
	CSRMaxBytes      int64
	// Enrolments hears every enrolment's result (nil: nobody).
	Enrolments EnrolmentObserver
}

// Messages of error answers.
const (
	msgNotFound     = "No onboarding data found for this device"
	msgKeyOnDevice  = "No private key is kept for this SIM: its key is made on the device. Enrol: POST a certificate signing request to "
	msgUnexpected   = "Unexpected error occurred"
	msgUnauthorized = "Unauthorized"
	msgBadDeviceIP  = "Missing or invalid device IP"
)

// NewHTTP returns the HTTP handler.
func NewHTTP(o Onboarder, opts Options) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(opts.Logger)
	e.Pre(sanitizeRequestID)
	e.Use(middleware.RequestIDWithConfig(middleware.RequestIDConfig{Generator: uuid.NewString}))
	observer := opts.Observer
	if observer == nil {
		observer = noObserver{}
	}
	e.Use(observe(observer, opts.Logger))
	e.Use(requireAPIKey(opts.APIKeyHeader, opts.APIKeys, opts.Logger))
	h := &onboardingHandler{app: o, ipHeader: opts.DeviceIPHeader, fetches: opts.Fetches, keyOnDevice: msgKeyOnDevice + "/device-api/certificate"}
	if len(opts.CertificatePaths) > 0 {
		h.keyOnDevice = msgKeyOnDevice + opts.CertificatePaths[0]
	}
	if h.fetches == nil {
		h.fetches = noFetches{}
	}
	for _, p := range opts.Paths {
		e.GET(p, h.serve)
	}
	if opts.Enroller != nil {
		eh := &enrolHandler{app: opts.Enroller, ipHeader: opts.DeviceIPHeader, maxBytes: opts.CSRMaxBytes,
			observer: opts.Enrolments, fetches: h.fetches}
		if eh.observer == nil {
			eh.observer = noEnrolments{}
		}
		for _, p := range opts.CertificatePaths {
			e.POST(p, eh.serve)
		}
	}
	return e
}

type onboardingHandler struct {
	app      Onboarder
	ipHeader string
	fetches  FetchNoter
	// keyOnDevice is the 404 message of a SIM whose device holds its key.
	keyOnDevice string
}

// FetchNoter learns that a device fetched its credentials (never blocking).
type FetchNoter interface {
	Note(iccid string)
}

type noFetches struct{}

func (noFetches) Note(string) {}

func (h *onboardingHandler) serve(c echo.Context) error {
	// The gateway sends the TCP peer address; simip spells it the way SIM
	// records are stored (::ffff:10.1.2.3 is 10.1.2.3) and refuses what no
	// SIM can have (IPv6, a port): a 400, not a lookup that cannot match.
	ip, err := simip.Parse(c.Request().Header.Get(h.ipHeader))
	if err != nil {
		c.Set(outcomeKey, "bad_device_ip")
		return c.JSON(http.StatusBadRequest, message{msgBadDeviceIP})
	}
	c.Set(deviceIPKey, ip.String())
	creds, err := h.app.ForIP(c.Request().Context(), ip)
	switch {
	case errors.Is(err, app.ErrKeyOnDevice):
		c.Set(outcomeKey, "key_on_device")
		return c.JSON(http.StatusNotFound, message{h.keyOnDevice})
	case errors.Is(err, app.ErrAmbiguousIP):
		c.Set(outcomeKey, "ambiguous_ip")
		return c.JSON(http.StatusNotFound, message{msgNotFound})
	case errors.Is(err, app.ErrNoCredentials):
		c.Set(outcomeKey, "no_credentials")
		return c.JSON(http.StatusNotFound, message{msgNotFound})
	case err != nil:
		return err
	}
	return h.write(c, creds)
}

// write sends the answer in the format negotiated from Accept;
// http.ServeContent honours Range (206, 416, multipart) so modems can
// download it in chunks, within the bounds honourRange sets.
func (h *onboardingHandler) write(c echo.Context, creds app.Credentials) error {
	format, body, ctype := "json", encodeJSON(creds), echo.MIMEApplicationJSON
	if negotiate(c.Request().Header.Get(echo.HeaderAccept)) == formatCSV {
		format, body, ctype = "csv", encodeCSV(creds), formatCSV
	}
	c.Set(formatKey, format)
	c.Set(outcomeKey, "served")
	h.fetches.Note(creds.ICCID)
	hdr := c.Response().Header()
	hdr.Set(echo.HeaderContentType, ctype)
	hdr.Set("Cache-Control", "no-store")
	if r := c.Request(); !honourRange(r.Header.Get("Range"), int64(len(body))) {
		r.Header.Del("Range") // answered 200 with the whole body
	}
	http.ServeContent(c.Response(), c.Request(), "", time.Time{}, bytes.NewReader(body))
	return nil
}
