// Package ports is the device-facing side of vpn-gateway: a reverse proxy to
// onboarding-api — the onboarding answer (GET) and enrolment (POST of a
// certificate signing request) — that identifies the device by the TCP
// peer address of its tunnel connection, never by anything the device
// sends, behind guards against floods and slow or oversized requests.
package ports

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
)

// ProxyOptions configure the proxy.
type ProxyOptions struct {
	Upstream *url.URL
	// Paths are forwarded (GET); every other path is 404.
	Paths []string
	// CertificatePaths are forwarded (POST of an enrolment, with its body).
	CertificatePaths []string
	DeviceIPHeader   string
	APIKeyHeader     string
	// APIKey returns the key presented to onboarding-api now.
	APIKey func() string
	// KeyRejected, when set, is called (in its own goroutine) when
	// onboarding-api answers 401: the key was rotated and should be re-read
	// now rather than at the next periodic refresh.
	KeyRejected func()
	// UpstreamTimeout bounds the wait for onboarding-api's answer headers.
	UpstreamTimeout time.Duration
	Guard           GuardOptions
	// Observer hears every answer and every refusal (nil: nobody).
	Observer Observer
	Logger   *slog.Logger
}

// requestIDHeader carries one id per device request into onboarding-api's
// logs and back to the device.
const requestIDHeader = "X-Request-Id"

// spoofable lists headers a device could use to claim another identity or
// smuggle a key; none reaches onboarding-api from the device. Header names
// are compared after lower-casing and turning '_' into '-', because some
// servers treat both spellings alike.
var spoofable = []string{"x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port", "forwarded",
	"x-real-ip", "x-client-ip", "true-client-ip", "x-original-forwarded-for", "authorization", "x-request-id"}

// NewProxy returns the device-facing handler.
func NewProxy(opts ProxyOptions) http.Handler {
	rp := &httputil.ReverseProxy{
		Rewrite:        rewrite(opts),
		Transport:      transport(opts.UpstreamTimeout),
		BufferPool:     newBufferPool(),
		ErrorHandler:   upstreamError(opts.Logger),
		ModifyResponse: modifyResponse(opts.KeyRejected),
	}
	observer := opts.Observer
	if observer == nil {
		observer = noObserver{}
	}
	return observe(observer, opts.Logger, newGuard(opts.Guard, opts.Paths, opts.CertificatePaths, observer, rp))
}

// modifyResponse drops the upstream's request id (the gateway already set
// it on the answer) and reports a rejected key.
func modifyResponse(keyRejected func()) func(*http.Response) error {
	return func(res *http.Response) error {
		res.Header.Del(requestIDHeader)
		if res.StatusCode == http.StatusUnauthorized && keyRejected != nil {
			go keyRejected()
		}
		return nil
	}
}

// rewrite builds the upstream request: device IP from the socket, the API
// key, a request id, and nothing identity-related from the device.
func rewrite(opts ProxyOptions) func(*httputil.ProxyRequest) {
	drop := map[string]bool{}
	for _, h := range append(spoofable, opts.DeviceIPHeader, opts.APIKeyHeader) {
		drop[normalize(h)] = true
	}
	return func(pr *httputil.ProxyRequest) {
		pr.SetURL(opts.Upstream)
		for name := range pr.Out.Header {
			if n := normalize(name); drop[n] || strings.Contains(strings.ReplaceAll(n, "-", ""), "apikey") {
				delete(pr.Out.Header, name)
			}
		}
		if pr.In.Method != http.MethodPost {
			pr.Out.Body, pr.Out.ContentLength = nil, 0 // GET: nothing to forward
		}
		pr.Out.Header.Set(opts.DeviceIPHeader, PeerIP(pr.In.RemoteAddr))
		pr.Out.Header.Set(opts.APIKeyHeader, opts.APIKey())
		pr.Out.Header.Set(requestIDHeader, requestID(pr.In))
	}
}

func normalize(h string) string { return strings.ReplaceAll(strings.ToLower(h), "_", "-") }

func transport(timeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: timeout,
	}
}

// statusClientClosed is the status logged and counted for a request whose
// device went away before the answer came (nginx's 499): not a 5xx.
const statusClientClosed = 499

func upstreamError(logger *slog.Logger) func(http.ResponseWriter, *http.Request, error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		if r.Context().Err() != nil {
			// The device closed its connection (or gave up waiting for an
			// enrolment): nobody to answer, onboarding-api is fine.
			logger.Info("device went away", "request_id", requestID(r), "path", r.URL.Path)
			w.WriteHeader(statusClientClosed)
			return
		}
		logger.Error("upstream failed", "request_id", requestID(r), "path", r.URL.Path, "error", err)
		writeJSON(w, http.StatusBadGateway, "Onboarding service unavailable")
	}
}

// PeerIP is the address of the TCP peer: in production the device's SIM IP
// as seen through the OpenVPN tunnel. IPv4-mapped IPv6 peers are unmapped.
func PeerIP(remoteAddr string) string {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		host, _, _ := net.SplitHostPort(remoteAddr)
		return host
	}
	return ap.Addr().Unmap().String()
}

type ctxKey struct{}

// requestID is the id the guard gave the request (a fresh one otherwise).
func requestID(r *http.Request) string {
	if id, ok := r.Context().Value(ctxKey{}).(string); ok {
		return id
	}
	return uuid.NewString()
}
