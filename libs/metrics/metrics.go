// Package metrics serves the operations listener every service has, separate
// from its public port: Prometheus metrics, liveness and readiness.
package metrics

import (
	"context"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/simbridge/simbridge/libs/httpserver"
)

// Namespace prefixes every metric of the project.
const Namespace = "simbridge"

// NewRegistry returns a registry with the Go runtime and process collectors,
// so memory and goroutines of each service are visible next to its own metrics.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Probe tracks whether the service can take work. It starts not ready; the
// composition root marks it ready once its dependencies are up.
type Probe struct {
	mu     sync.RWMutex
	reason string
}

// NewProbe returns a probe that is not ready yet.
func NewProbe() *Probe { return &Probe{reason: "starting"} }

// SetReady marks the service ready.
func (p *Probe) SetReady() { p.set("") }

// SetNotReady marks the service not ready and says why.
func (p *Probe) SetNotReady(reason string) { p.set(reason) }

func (p *Probe) set(reason string) {
	p.mu.Lock()
	p.reason = reason
	p.mu.Unlock()
}

// Ready reports readiness and, when not ready, the reason.
func (p *Probe) Ready() (bool, string) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.reason == "", p.reason
}

// Handler serves /metrics, /healthz (the process answers) and /readyz (the
// probe is ready; 503 with the reason otherwise).
func Handler(reg *prometheus.Registry, probe *Probe) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if ok, reason := probe.Ready(); !ok {
			http.Error(w, "not ready: "+reason, http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return mux
}

// Serve runs the operations listener on addr until ctx is done.
func Serve(ctx context.Context, addr string, reg *prometheus.Registry, probe *Probe, opts httpserver.Options) error {
	return httpserver.ListenAndServe(ctx, addr, Handler(reg, probe), opts)
}
