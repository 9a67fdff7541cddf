package service

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/simbridge/simbridge/libs/metrics"
)

// Metrics is every series vpn-gateway exports: device requests, latency and
// refusals, the tunnel's state (VpnGatewayTunnelDown), the served
// certificate's expiry (GatewayCertificateExpiring) and AWS calls; the
// alarms are checked against them by tests/deploy. The proxy, the tunnel
// use case and the certificate adapter report through the observers they
// declare and never import Prometheus.
type Metrics struct {
	// AWS times Secrets Manager, SSM and SNS calls, labelled as in the
	// other services.
	AWS *metrics.AWSCalls

	requests     *prometheus.CounterVec
	rejected     *prometheus.CounterVec
	latency      prometheus.Histogram
	tunnelUp     prometheus.Gauge
	restarts     prometheus.Counter
	certNotAfter prometheus.Gauge
}

// newMetrics registers the series on reg. The tunnel's series exist only
// with the tunnel and the certificate's only with HTTPS: an absent series
// leaves its alarm silent, where a 0 would fire it (a tunnel "down" in
// local mode, a certificate "expired" in 1970).
func newMetrics(reg prometheus.Registerer, tunnel, https bool) *Metrics {
	m := &Metrics{
		AWS: metrics.NewAWSCalls(reg),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "vpn_gateway",
			Name: "requests_total", Help: "Device requests by status code."}, []string{"code"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "vpn_gateway",
			Name: "rejected_total", Help: "Device requests refused by the gateway itself, by reason."}, []string{"reason"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: metrics.Namespace, Subsystem: "vpn_gateway",
			Name: "request_duration_seconds", Help: "Device request latency through the gateway.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}}),
		tunnelUp: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: metrics.Namespace, Subsystem: "vpn_gateway",
			Name: "tunnel_up", Help: "1 while the OpenVPN tunnel is up and devices are served on its address."}),
		restarts: prometheus.NewCounter(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "vpn_gateway",
			Name: "tunnel_restarts_total", Help: "OpenVPN client restarts after an exit or a lost address."}),
		certNotAfter: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: metrics.Namespace, Subsystem: "vpn_gateway",
			Name: "tls_certificate_not_after_timestamp_seconds",
			Help: "When the HTTPS certificate being served stops being valid (its NotAfter), in Unix seconds."}),
	}
	reg.MustRegister(m.requests, m.rejected, m.latency)
	if tunnel {
		reg.MustRegister(m.tunnelUp, m.restarts)
	}
	if https {
		reg.MustRegister(m.certNotAfter)
	}
	return m
}

// ObserveRequest counts one device request and its latency (ports.Observer).
func (m *Metrics) ObserveRequest(code int, took time.Duration) {
	m.requests.WithLabelValues(strconv.Itoa(code)).Inc()
	m.latency.Observe(took.Seconds())
}

// Rejected counts one request the guard refused, by reason (ports.Observer).
func (m *Metrics) Rejected(reason string) { m.rejected.WithLabelValues(reason).Inc() }

// TunnelUp sets the gauge the tunnel alarm watches (app.TunnelObserver).
func (m *Metrics) TunnelUp(up bool) {
	if up {
		m.tunnelUp.Set(1)
	} else {
		m.tunnelUp.Set(0)
	}
}

// TunnelRestarted counts one restart of the OpenVPN client (app.TunnelObserver).
func (m *Metrics) TunnelRestarted() { m.restarts.Inc() }

// CertificateLoaded sets the gauge the certificate expiry alarm watches to
// the served certificate's NotAfter, at every (re)load.
func (m *Metrics) CertificateLoaded(notAfter time.Time) { m.certNotAfter.Set(float64(notAfter.Unix())) }
