package oncesim

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// recorder remembers what a handler answered, for the request log and the stats.
type recorder struct {
	http.ResponseWriter
	status   int
	endpoint string // set by Server.endpoint for API routes
	outcome  string // set when no status was sent: "reset", "canceled"
}

// WriteHeader records the first status sent.
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200.
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Hijack and Flush of the real writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// result is the outcome counted in Stats.Requests.
func (r *recorder) result() string {
	switch {
	case r.outcome != "":
		return r.outcome
	case r.status == 0:
		return strconv.Itoa(http.StatusOK)
	default:
		return strconv.Itoa(r.status)
	}
}

// markOutcome labels a request that ended without a status (connection reset, client gone).
func markOutcome(w http.ResponseWriter, outcome string) {
	if rec, ok := w.(*recorder); ok {
		rec.outcome = outcome
	}
}

// logRequests logs every request once (never its Authorization header) and counts API requests.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		defer s.finish(rec, r, start)
		next.ServeHTTP(rec, r)
	})
}

// finish writes the log line and the stats of one request.
func (s *Server) finish(rec *recorder, r *http.Request, start time.Time) {
	if rec.endpoint != "" {
		s.stats.request(rec.endpoint, rec.result())
	}
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("query", r.URL.RawQuery),
		slog.String("outcome", rec.result()),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
	)
}
