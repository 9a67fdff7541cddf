// Package ports is the device-facing side of vpn-gateway: a reverse proxy to
// onboarding-api that identifies the device by the TCP peer address of its
// tunnel connection, never by anything the device sends.
package ports

import (
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/simbridge/simbridge/libs/metrics"
)

// ProxyOptions configure the proxy.
type ProxyOptions struct {
	Upstream *url.URL
	// Paths are forwarded; every other path is 404.
	Paths          []string
	DeviceIPHeader string
	APIKeyHeader   string
	// APIKey returns the key presented to onboarding-api.
	APIKey  func() string
	Metrics *Metrics
	Logger  *slog.Logger
}

// spoofable lists headers a device could use to claim another identity;
// none reaches onboarding-api from the device.
var spoofable = []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded", "X-Real-Ip", "X-Client-Ip", "True-Client-Ip"}

// NewProxy returns the device-facing handler.
func NewProxy(opts ProxyOptions) http.Handler {
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(opts.Upstream)
			for _, h := range append(spoofable, opts.DeviceIPHeader, opts.APIKeyHeader) {
				pr.Out.Header.Del(h)
			}
			pr.Out.Header.Set(opts.DeviceIPHeader, peerIP(pr.In.RemoteAddr))
			pr.Out.Header.Set(opts.APIKeyHeader, opts.APIKey())
		},
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        512,
			MaxIdleConnsPerHost: 512,
			IdleConnTimeout:     90 * time.Second,
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			opts.Logger.Error("upstream failed", "path", r.URL.Path, "error", err)
			writeJSON(w, http.StatusBadGateway, "Onboarding service unavailable")
		},
	}
	allowed := map[string]bool{}
	for _, p := range opts.Paths {
		allowed[p] = true
	}
	return opts.Metrics.observe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case !allowed[r.URL.Path]:
			writeJSON(w, http.StatusNotFound, "Not Found")
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		default:
			rp.ServeHTTP(w, r)
		}
	}))
}

// peerIP is the address of the TCP peer: in production the device's SIM IP
// as seen through the OpenVPN tunnel.
func peerIP(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}

func writeJSON(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

// Metrics are the gateway's request series.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  prometheus.Histogram
}

// NewMetrics registers the series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "vpn_gateway",
			Name: "requests_total", Help: "Device requests by status code."}, []string{"code"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: metrics.Namespace, Subsystem: "vpn_gateway",
			Name: "request_duration_seconds", Help: "Device request latency through the gateway.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

func (m *Metrics) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		m.requests.WithLabelValues(strconv.Itoa(rec.code)).Inc()
		m.latency.Observe(time.Since(start).Seconds())
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
