package service

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/simbridge/simbridge/libs/metrics"
)

// newCertificateExpiry registers the gauge of the served certificate's end
// of validity (its NotAfter, Unix seconds) and returns what sets it.
func newCertificateExpiry(reg prometheus.Registerer) func(time.Time) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: metrics.Namespace, Subsystem: "vpn_gateway",
		Name: "tls_certificate_not_after_timestamp_seconds",
		Help: "When the HTTPS certificate being served stops being valid (its NotAfter), in Unix seconds."})
	reg.MustRegister(g)
	return func(notAfter time.Time) { g.Set(float64(notAfter.Unix())) }
}
