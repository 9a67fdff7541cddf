// Package loadgen drives HTTP load as a fleet of devices: every request
// leaves from its device's own loopback address (the way a SIM's requests
// arrive through the tunnel with its IP), at a fixed rate or as fast as a
// number of workers can go. Rate control and latency statistics are
// vegeta's; this package only adds the per-device source address.
package loadgen

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// sourceHeader names the device a target belongs to; it is removed before
// the request is sent.
const sourceHeader = "X-Loadgen-Source-Ip"

// Fleet is a set of devices, each with its own source address and
// keep-alive connection pool.
type Fleet struct {
	IPs        []string
	transports map[string]*http.Transport
}

// NewFleet prepares one transport per source IP.
func NewFleet(ips []string) (*Fleet, error) {
	f := &Fleet{IPs: ips, transports: map[string]*http.Transport{}}
	for _, ip := range ips {
		addr := net.ParseIP(ip)
		if addr == nil {
			return nil, fmt.Errorf("loadgen: %q is not an IP address", ip)
		}
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: addr}, Timeout: 5 * time.Second}
		f.transports[ip] = &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second}
	}
	return f, nil
}

// RoundTrip sends r from the source address its target named.
func (f *Fleet) RoundTrip(r *http.Request) (*http.Response, error) {
	t, ok := f.transports[r.Header.Get(sourceHeader)]
	if !ok {
		return nil, fmt.Errorf("loadgen: request without a known source IP")
	}
	out := r.Clone(r.Context())
	out.Header.Del(sourceHeader)
	return t.RoundTrip(out)
}

// Close drops the fleet's idle connections.
func (f *Fleet) Close() {
	for _, t := range f.transports {
		t.CloseIdleConnections()
	}
}

// targets is one GET of url per device, round robin.
func (f *Fleet) targets(url string, header http.Header) vegeta.Targeter {
	ts := make([]vegeta.Target, len(f.IPs))
	for i, ip := range f.IPs {
		h := header.Clone()
		if h == nil {
			h = http.Header{}
		}
		h.Set(sourceHeader, ip)
		ts[i] = vegeta.Target{Method: http.MethodGet, URL: url, Header: h}
	}
	return vegeta.NewStaticTargeter(ts...)
}

// Phase is one measured run.
type Phase struct {
	Name   string
	URL    string
	Header http.Header
	// Rate is requests per second; 0 means as fast as Workers can go.
	Rate     int
	Workers  uint64
	Duration time.Duration
}

// Result summarises a phase.
type Result struct {
	Phase      Phase
	Requests   uint64
	Throughput float64 // successful (200) answers per second
	P50, P99   time.Duration
	Max        time.Duration
	Errors     uint64 // answers other than 200, and transport errors
}

// Run executes the phase and returns its figures.
func (f *Fleet) Run(ctx context.Context, p Phase) Result {
	opts := []func(*vegeta.Attacker){vegeta.Client(&http.Client{Transport: f, Timeout: 10 * time.Second}), vegeta.Redirects(vegeta.NoFollow)}
	rate := vegeta.Rate{Freq: p.Rate, Per: time.Second}
	if p.Rate == 0 {
		opts = append(opts, vegeta.Workers(p.Workers), vegeta.MaxWorkers(p.Workers))
	}
	atk := vegeta.NewAttacker(opts...)
	var m vegeta.Metrics
	var bad uint64
	for res := range atk.Attack(f.targets(p.URL, p.Header), rate, p.Duration, p.Name) {
		if ctx.Err() != nil {
			atk.Stop()
		}
		if res.Code != http.StatusOK {
			bad++
		}
		res.Body = nil
		m.Add(res)
	}
	m.Close()
	ok := m.Requests - bad
	secs := (m.Duration + m.Wait).Seconds()
	return Result{Phase: p, Requests: m.Requests, Throughput: float64(ok) / max(secs, 1e-9),
		P50: m.Latencies.P50, P99: m.Latencies.P99, Max: m.Latencies.Max, Errors: bad}
}

// String is one line of figures.
func (r Result) String() string {
	return fmt.Sprintf("%-22s requests=%d ok_rps=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.1f errors=%d",
		r.Phase.Name, r.Requests, r.Throughput, ms(r.P50), ms(r.P99), ms(r.Max), r.Errors)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// LoopbackIPs returns n distinct addresses 127.1.x.y, usable as sources
// without configuring anything (Linux routes all of 127/8 to lo).
func LoopbackIPs(n int) []string {
	ips := make([]string, n)
	for i := range n {
		ips[i] = fmt.Sprintf("127.1.%d.%d", (i+1)/256, (i+1)%256)
	}
	return ips
}
