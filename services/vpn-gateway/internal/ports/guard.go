package ports

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/time/rate"
)

// GuardOptions protect onboarding-api from a fleet rebooting at once, from
// misbehaving devices and from anything else that reaches the tunnel address.
type GuardOptions struct {
	// RatePerIP and BurstPerIP bound requests per device IP (429 beyond);
	// a Range download of a few chunks fits in the burst.
	RatePerIP  float64
	BurstPerIP int
	// MaxConcurrent bounds requests in flight (503 beyond).
	MaxConcurrent int
	// MaxBodyBytes bounds a request body (413 beyond); GET needs none.
	MaxBodyBytes int64
}

// trackedIPs bounds the per-IP limiters kept; idle ones expire.
const (
	trackedIPs   = 100_000
	limiterIdle  = 10 * time.Minute
	retryAfterS  = "1"
	allowedVerbs = "GET"
)

// guard rejects what must not reach onboarding-api, cheapest checks first.
type guard struct {
	opts     GuardOptions
	paths    map[string]bool
	limiters *expirable.LRU[string, *rate.Limiter]
	slots    chan struct{}
	metrics  *Metrics
	next     http.Handler
}

func newGuard(opts GuardOptions, paths []string, m *Metrics, next http.Handler) *guard {
	g := &guard{opts: opts, paths: map[string]bool{}, slots: make(chan struct{}, opts.MaxConcurrent), metrics: m, next: next,
		limiters: expirable.NewLRU[string, *rate.Limiter](trackedIPs, nil, limiterIdle)}
	for _, p := range paths {
		g.paths[p] = true
	}
	return g
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case !g.limiter(PeerIP(r.RemoteAddr)).Allow():
		g.reject(w, r, http.StatusTooManyRequests, "rate_limited", "Too Many Requests")
	case !g.paths[r.URL.Path]:
		g.reject(w, r, http.StatusNotFound, "path", "Not Found")
	case r.Method != http.MethodGet:
		w.Header().Set("Allow", allowedVerbs)
		g.reject(w, r, http.StatusMethodNotAllowed, "method", "Method Not Allowed")
	case r.ContentLength > g.opts.MaxBodyBytes:
		g.reject(w, r, http.StatusRequestEntityTooLarge, "body", "Request Entity Too Large")
	default:
		g.forward(w, r)
	}
}

// forward takes a slot or answers 503 at once: queueing behind a full
// upstream only makes every device wait longer.
func (g *guard) forward(w http.ResponseWriter, r *http.Request) {
	select {
	case g.slots <- struct{}{}:
		defer func() { <-g.slots }()
		r.Body = http.MaxBytesReader(w, r.Body, g.opts.MaxBodyBytes)
		g.next.ServeHTTP(w, r)
	default:
		g.reject(w, r, http.StatusServiceUnavailable, "busy", "Service Unavailable")
	}
}

func (g *guard) limiter(ip string) *rate.Limiter {
	if l, ok := g.limiters.Get(ip); ok {
		return l
	}
	l := rate.NewLimiter(rate.Limit(g.opts.RatePerIP), g.opts.BurstPerIP)
	g.limiters.Add(ip, l)
	return l
}

func (g *guard) reject(w http.ResponseWriter, _ *http.Request, code int, reason, msg string) {
	g.metrics.rejected.WithLabelValues(reason).Inc()
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", retryAfterS)
	}
	writeJSON(w, code, msg)
}

func writeJSON(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}
