package ports

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"
)

// Observer hears every device request the proxy answered and every one the
// guard refused (by reason), so the service can count them without the
// proxy knowing how.
type Observer interface {
	ObserveRequest(code int, took time.Duration)
	Rejected(reason string)
}

// noObserver is the observer when nobody listens.
type noObserver struct{}

func (noObserver) ObserveRequest(int, time.Duration) {}
func (noObserver) Rejected(string)                   {}

// observe gives every request an id (sent upstream and back to the device),
// then logs it and reports it to o once.
func observe(o Observer, logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := uuid.NewString()
		w.Header().Set(requestIDHeader, id)
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, id))
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		took := time.Since(start)
		o.ObserveRequest(rec.code, took)
		logger.Info("request", "request_id", id, "device_ip", PeerIP(r.RemoteAddr), "method", r.Method,
			"path", r.URL.Path, "range", r.Header.Get("Range"), "status", rec.code, "duration_ms", float64(took.Microseconds())/1000)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
