package ports

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/simbridge/simbridge/libs/iotca"
	"github.com/simbridge/simbridge/libs/simip"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/services/onboarding-api/internal/app"
)

// Enroller certifies the key of the device at an IP from its request.
type Enroller interface {
	Enrol(ctx context.Context, ip netip.Addr, body []byte) (app.Certificate, error)
}

// EnrolmentObserver hears the result of every enrolment request (issued,
// existing, pending, bad_request, rate_limited, key_retired, key_mode,
// not_found, device_gone, error), so the service can count them for the
// alarm on unusual rates.
type EnrolmentObserver interface {
	ObserveEnrolment(result string)
}

type noEnrolments struct{}

func (noEnrolments) ObserveEnrolment(string) {}

// Messages of enrolment answers.
const (
	msgEnrolOff     = "Enrolment is off for this SIM: its key is made by the service; fetch it with GET /device-api/onboarding"
	msgKeyRetired   = "This key was enrolled before and its certificate taken out of service: generate a new key and send a new request"
	msgEnrolPending = "Enrolment in progress: send the same request again"
	msgRateLimited  = "This SIM enrolled too often: try again later"
	msgTooLarge     = "Request Entity Too Large"
)

// statusClientClosed is the status logged and counted for a request whose
// client went away before the answer (nginx's 499): not a 5xx of ours.
const statusClientClosed = 499

type enrolHandler struct {
	app      Enroller
	ipHeader string
	maxBytes int64
	observer EnrolmentObserver
	fetches  FetchNoter
}

// serve answers POST of a certificate signing request (PEM or DER, any
// content type) with the certificate, never a private key: JSON, or the
// one-line CSV of the reference's shape when Accept asks for it.
func (h *enrolHandler) serve(c echo.Context) error {
	ip, err := simip.Parse(c.Request().Header.Get(h.ipHeader))
	if err != nil {
		c.Set(outcomeKey, "bad_device_ip")
		return c.JSON(http.StatusBadRequest, message{msgBadDeviceIP})
	}
	c.Set(deviceIPKey, ip.String())
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, h.maxBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return h.refuse(c, "bad_request", http.StatusRequestEntityTooLarge, msgTooLarge)
	case err != nil:
		return h.refuse(c, "bad_request", http.StatusBadRequest, "Bad Request")
	}
	cert, err := h.app.Enrol(c.Request().Context(), ip, body)
	var later *app.RetryLater
	switch {
	case errors.Is(err, iotca.ErrCSRMalformed), errors.Is(err, iotca.ErrCSRSignature), errors.Is(err, iotca.ErrCSRKey):
		return h.refuse(c, "bad_request", http.StatusBadRequest, err.Error())
	case errors.Is(err, app.ErrNoCredentials):
		return h.refuse(c, "not_found", http.StatusNotFound, msgNotFound)
	case errors.Is(err, app.ErrEnrolmentOff):
		return h.refuse(c, "key_mode", http.StatusForbidden, msgEnrolOff)
	case errors.Is(err, simrec.ErrKeyRetired):
		return h.refuse(c, "key_retired", http.StatusConflict, msgKeyRetired)
	case errors.As(err, &later) && later.Pending:
		retryAfter(c, later)
		return h.refuse(c, "pending", http.StatusAccepted, msgEnrolPending)
	case errors.As(err, &later):
		retryAfter(c, later)
		return h.refuse(c, "rate_limited", http.StatusTooManyRequests, msgRateLimited)
	case err != nil && c.Request().Context().Err() != nil:
		// The device went away while it waited (its timeout is shorter
		// than ENROL_WAIT): nobody to answer, nothing went wrong here. The
		// enrolment goes on; the same request gets its certificate.
		c.Set(outcomeKey, "device_gone")
		h.observer.ObserveEnrolment("device_gone")
		return c.NoContent(statusClientClosed)
	case err != nil:
		h.observer.ObserveEnrolment("error")
		return err
	}
	result := "existing"
	if cert.Issued {
		result = "issued"
	}
	h.observer.ObserveEnrolment(result)
	h.fetches.Note(cert.ICCID)
	c.Set(outcomeKey, result)
	return h.write(c, cert)
}

func (h *enrolHandler) refuse(c echo.Context, result string, code int, msg string) error {
	c.Set(outcomeKey, result)
	h.observer.ObserveEnrolment(result)
	return c.JSON(code, message{msg})
}

// retryAfter tells the device when to ask again, in whole seconds.
func retryAfter(c echo.Context, later *app.RetryLater) {
	c.Response().Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(later.After.Seconds()))))
}

// enrolJSON is the enrolment's JSON answer: the onboarding answer's fields
// in the same order, without the private key, and the certificate id.
type enrolJSON struct {
	AmazonRootCaURL    string `json:"amazonRootCaUrl"`
	Certificate        string `json:"certificate"`
	CertificateID      string `json:"certificateId"`
	ICCID              string `json:"iccid"`
	IoTCoreEndpointURL string `json:"iotCoreEndpointUrl"`
}

func (h *enrolHandler) write(c echo.Context, cert app.Certificate) error {
	format, ctype := "json", echo.MIMEApplicationJSON
	var body []byte
	if negotiate(c.Request().Header.Get(echo.HeaderAccept)) == formatCSV {
		format, ctype = "csv", formatCSV
		body = csvLine(cert.ICCID, cert.IoTEndpoint, cert.RootCAURL, cert.RootCAPEM, cert.CertificatePEM)
	} else {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(enrolJSON{AmazonRootCaURL: cert.RootCAURL, Certificate: cert.CertificatePEM, CertificateID: cert.CertificateID,
			ICCID: cert.ICCID, IoTCoreEndpointURL: cert.IoTEndpoint})
		body = bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	}
	c.Set(formatKey, format)
	hdr := c.Response().Header()
	hdr.Set(echo.HeaderContentType, ctype)
	hdr.Set("Cache-Control", "no-store")
	return c.Blob(http.StatusOK, ctype, body)
}

// csvLine renders quoted fields on one line, CR, LF and CRLF inside them
// as the two characters \n: the reference's CSV escaping.
func csvLine(fields ...string) []byte {
	var b strings.Builder
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(newlines.Replace(f))
		b.WriteByte('"')
	}
	return []byte(b.String())
}
