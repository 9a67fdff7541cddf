package service

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/simbridge/simbridge/libs/messaging"
	"github.com/simbridge/simbridge/libs/metrics"
)

// Metrics is every Prometheus series the provisioner defines, registered on
// its registry in one place so the alarms and dashboards (checked against
// the code by tests/deploy) have one file to agree with. The queue port
// sees only Measure, the composition root only CAExpires.
//
// The libraries register on the same registry what every consumer
// exports: the Go and process collectors (metrics.NewRegistry), the AWS
// calls and quota shares (ConsumerSettings.LoadAWS, ShareQuotas) and the
// Watermill router's.
type Metrics struct {
	reg      *prometheus.Registry
	commands *messaging.CommandMetrics
	// Consumer counts the queue's retries and dead-letters by step.
	Consumer *messaging.ConsumerMetrics
	// caNotAfter is registered once the own CA is loaded: a series that
	// read 0 before would fire the CA expiry alarm.
	caNotAfter prometheus.Gauge
	caOnce     sync.Once
}

// NewMetrics registers the provisioner's series on reg.
func NewMetrics(reg *prometheus.Registry) *Metrics {
	return &Metrics{reg: reg, commands: messaging.NewCommandMetrics(reg, "provisioner"),
		Consumer: messaging.NewConsumerMetrics(reg, "provisioner"),
		caNotAfter: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: metrics.Namespace, Name: "ca_certificate_not_after_timestamp_seconds",
			Help: "When the IoT CA certificate that signs device certificates expires (Unix seconds)."}),
	}
}

// Registry is what the ops listener serves.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Measure counts a command by kind and result, its latency, the commands
// in flight and failures by step.
func (m *Metrics) Measure(next messaging.CommandFunc) messaging.CommandFunc {
	return m.commands.Measure(next)
}

// CAExpires exports when the loaded IoT CA certificate expires.
func (m *Metrics) CAExpires(notAfter time.Time) {
	m.caOnce.Do(func() { m.reg.MustRegister(m.caNotAfter) })
	m.caNotAfter.Set(float64(notAfter.Unix()))
}
