package ports

import (
	"encoding/json"
	"errors"
	"io"
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
	// MaxBodyBytes bounds a request body (413 beyond), however it is framed;
	// GET needs none.
	MaxBodyBytes int64
	// MaxHeaderBytes bounds the request head (431 beyond): the request line
	// and every header field, counted as headerBytes does. net/http's own
	// MaxHeaderBytes is not that limit: it reads 4 KiB more before it
	// refuses (its "bufio slop"), and HTTP/2 counts differently. Zero or
	// less leaves the head to the server's limit alone.
	MaxHeaderBytes int
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
	observer Observer
	next     http.Handler
}

func newGuard(opts GuardOptions, paths []string, o Observer, next http.Handler) *guard {
	g := &guard{opts: opts, paths: map[string]bool{}, slots: make(chan struct{}, opts.MaxConcurrent), observer: o, next: next,
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
	case g.opts.MaxHeaderBytes > 0 && headerBytes(r) > g.opts.MaxHeaderBytes:
		g.reject(w, r, http.StatusRequestHeaderFieldsTooLarge, "header", "Request Header Fields Too Large")
	case !g.paths[r.URL.Path]:
		g.reject(w, r, http.StatusNotFound, "path", "Not Found")
	case r.Method != http.MethodGet:
		w.Header().Set("Allow", allowedVerbs)
		g.reject(w, r, http.StatusMethodNotAllowed, "method", "Method Not Allowed")
	case r.ContentLength > g.opts.MaxBodyBytes:
		g.reject(w, r, http.StatusRequestEntityTooLarge, "body", "Request Entity Too Large")
	default:
		g.checkBody(w, r)
	}
}

// checkBody reads whatever body came with the request, up to the limit,
// before the request takes a slot. Content-Length was checked above, but a
// chunked (HTTP/1.1) or unsized (HTTP/2) body declares nothing, and the
// proxy never forwards a body, so reading it here is the only way to
// enforce the limit whatever the framing. A request without
// Content-Length or Transfer-Encoding has no body (RFC 9112 §6.3: there is
// no close-delimited request body, HTTP/1.0 included). The read is bounded
// by the limit and the server's ReadTimeout.
func (g *guard) checkBody(w http.ResponseWriter, r *http.Request) {
	if r.Body != nil && r.Body != http.NoBody {
		_, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, g.opts.MaxBodyBytes))
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			g.reject(w, r, http.StatusRequestEntityTooLarge, "body", "Request Entity Too Large")
			return
		case err != nil:
			g.reject(w, r, http.StatusBadRequest, "body", "Bad Request")
			return
		}
	}
	g.forward(w, r)
}

// forward takes a slot or answers 503 at once: queueing behind a full
// upstream only makes every device wait longer.
func (g *guard) forward(w http.ResponseWriter, r *http.Request) {
	select {
	case g.slots <- struct{}{}:
		defer func() { <-g.slots }()
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
	g.observer.Rejected(reason)
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

// headerBytes is the size of the request head as MAX_HEADER_BYTES counts
// it, the same for HTTP/1.x and HTTP/2: the request line, every header
// field as "Name: value" CRLF (Host included) and the final CRLF, which is
// exactly the bytes of a head written in the usual form. Whitespace
// net/http strips around values is not counted; the server's own limit
// (MaxHeaderBytes plus net/http's slack) bounds what it reads regardless.
func headerBytes(r *http.Request) int {
	const crlf, sep = len("\r\n"), len(": ")
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + crlf
	if r.Host != "" {
		n += len("Host") + sep + len(r.Host) + crlf
	}
	for name, values := range r.Header {
		for _, v := range values {
			n += len(name) + sep + len(v) + crlf
		}
	}
	return n + crlf
}
