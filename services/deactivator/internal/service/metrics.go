package service

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/simbridge/simbridge/libs/messaging"
)

// Metrics is every Prometheus series the deactivator defines, registered on
// its registry in one place so the alarms and dashboards (checked against
// the code by tests/deploy) have one file to agree with. The queue port
// sees only Measure.
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
}

// NewMetrics registers the deactivator's series on reg.
func NewMetrics(reg *prometheus.Registry) *Metrics {
	return &Metrics{reg: reg, commands: messaging.NewCommandMetrics(reg, "deactivator"),
		Consumer: messaging.NewConsumerMetrics(reg, "deactivator")}
}

// Registry is what the ops listener serves.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Measure counts a command by kind and result, its latency, the commands
// in flight and failures by step.
func (m *Metrics) Measure(next messaging.CommandFunc) messaging.CommandFunc {
	return m.commands.Measure(next)
}
