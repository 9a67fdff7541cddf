package ports

import (
	"bytes"
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
	// MaxCSRBytes bounds an enrolment's body, a certificate signing request
	// (413 beyond): the contract's CSR_MAX_BYTES, which onboarding-api
	// enforces too.
	MaxCSRBytes int64
	// MaxHeaderBytes bounds the request head (431 beyond): the request line
	// and every header field, counted as headerBytes does. net/http's own
	// MaxHeaderBytes is not that limit: it reads 4 KiB more before it
	// refuses (its "bufio slop"), and HTTP/2 counts differently. Zero or
	// less leaves the head to the server's limit alone.
	MaxHeaderBytes int
}

// trackedIPs bounds the per-IP limiters kept; idle ones expire.
const (
	trackedIPs  = 100_000
	limiterIdle = 10 * time.Minute
	retryAfterS = "1"
)

// route is what a path takes: GET of the onboarding answer, or POST of an
// enrolment (a certificate signing request, forwarded).
type route struct {
	method  string
	maxBody int64
}

// guard rejects what must not reach onboarding-api, cheapest checks first.
type guard struct {
	opts     GuardOptions
	routes   map[string]route
	limiters *expirable.LRU[string, *rate.Limiter]
	slots    chan struct{}
	observer Observer
	next     http.Handler
}

func newGuard(opts GuardOptions, paths, certificatePaths []string, o Observer, next http.Handler) *guard {
	g := &guard{opts: opts, routes: map[string]route{}, slots: make(chan struct{}, opts.MaxConcurrent), observer: o, next: next,
		limiters: expirable.NewLRU[string, *rate.Limiter](trackedIPs, nil, limiterIdle)}
	for _, p := range paths {
		g.routes[p] = route{method: http.MethodGet, maxBody: opts.MaxBodyBytes}
	}
	for _, p := range certificatePaths {
		g.routes[p] = route{method: http.MethodPost, maxBody: opts.MaxCSRBytes}
	}
	return g
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, known := g.routes[r.URL.Path]
	switch {
	case !g.limiter(PeerIP(r.RemoteAddr)).Allow():
		g.reject(w, r, http.StatusTooManyRequests, "rate_limited", "Too Many Requests")
	case g.opts.MaxHeaderBytes > 0 && headerBytes(r) > g.opts.MaxHeaderBytes:
		g.reject(w, r, http.StatusRequestHeaderFieldsTooLarge, "header", "Request Header Fields Too Large")
	case !known:
		g.reject(w, r, http.StatusNotFound, "path", "Not Found")
	case r.Method != rt.method:
		w.Header().Set("Allow", rt.method)
		g.reject(w, r, http.StatusMethodNotAllowed, "method", "Method Not Allowed")
	case r.ContentLength > rt.maxBody:
		g.reject(w, r, http.StatusRequestEntityTooLarge, "body", "Request Entity Too Large")
	default:
		g.checkBody(w, r, rt)
	}
}

// checkBody reads whatever body came with the request, up to the route's
// limit, before the request takes a slot. Content-Length was checked
// above, but a chunked (HTTP/1.1) or unsized (HTTP/2) body declares
// nothing, so reading it here is the only way to enforce the limit
// whatever the framing. A request without Content-Length or
// Transfer-Encoding has no body (RFC 9112 §6.3: there is no
// close-delimited request body, HTTP/1.0 included). The read is bounded by
// the limit and the server's ReadTimeout. A GET's body is dropped; an
// enrolment's is forwarded whole, with its length (onboarding-api gets a
// body that is complete and within the limit, never a slow stream).
func (g *guard) checkBody(w http.ResponseWriter, r *http.Request, rt route) {
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		var err error
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, rt.maxBody))
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
	r.Body, r.ContentLength = http.NoBody, 0
	if rt.method == http.MethodPost {
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		r.TransferEncoding = nil
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
