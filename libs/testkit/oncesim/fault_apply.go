package oncesim

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// serveWithFaults applies the due fault rule of endpoint, if any, around the real handler next.
func (s *Server) serveWithFaults(endpoint string, w http.ResponseWriter, r *http.Request, next http.HandlerFunc) {
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if page == 0 {
		page = 1
	}
	f, ok := s.faults.pick(endpoint, page, r.PathValue("iccid"))
	if !ok {
		next(w, r)
		return
	}
	s.stats.faultApplied()
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "fault injected",
		slog.String("endpoint", endpoint), slog.Int("status", f.Status),
		slog.Bool("reset", f.Reset), slog.Bool("truncate", f.Truncate), slog.Int("delay_ms", f.DelayMS),
		slog.Int("drop_sims", f.DropSIMs))
	applyFault(f, w, r, next)
}

// applyFault runs the effects of f in order: delay, reset, then a rewritten answer.
func applyFault(f Fault, w http.ResponseWriter, r *http.Request, next http.HandlerFunc) {
	if !sleep(r.Context(), time.Duration(f.DelayMS)*time.Millisecond) {
		markOutcome(w, "canceled")
		return
	}
	if f.Reset {
		resetConnection(w)
		return
	}
	resp := faultResponse(f, r, next)
	rewrite(resp, f)
	if f.Truncate {
		resp.writeTruncated(w)
		return
	}
	resp.writeTo(w)
}

// faultResponse is the answer to rewrite: a synthetic one for Status rules, else the real one.
func faultResponse(f Fault, r *http.Request, next http.HandlerFunc) *captured {
	if f.Status == 0 {
		return capture(r, next)
	}
	resp := newCaptured()
	resp.header.Set("Content-Type", "application/json")
	resp.status = f.Status
	resp.body.WriteString(f.syntheticBody())
	return resp
}

// rewrite applies the body and header effects of f.
func rewrite(resp *captured, f Fault) {
	if f.Body != "" {
		resp.body.Reset()
		resp.body.WriteString(f.Body)
	}
	if f.DropSIMs > 0 {
		dropSIMs(resp, f.DropSIMs)
	}
	if f.OmitHeader != "" {
		resp.header.Del(f.OmitHeader)
	}
	for k, v := range f.SetHeaders {
		resp.header.Set(k, v)
	}
	if f.RetryAfter != "" {
		resp.header.Set("Retry-After", f.RetryAfter)
	}
}

// dropSIMs removes the last n elements of a JSON array answer, leaving the headers as they were:
// a page that comes back short while the paging headers say it is not the end. An answer that is
// not an array (an error) is left alone.
func dropSIMs(resp *captured, n int) {
	var sims []json.RawMessage
	if json.Unmarshal(resp.body.Bytes(), &sims) != nil || sims == nil {
		return
	}
	out, err := json.Marshal(sims[:max(len(sims)-n, 0)])
	if err != nil {
		return
	}
	resp.body.Reset()
	resp.body.Write(out)
}

// sleep waits d unless ctx ends first; it reports whether the full wait happened.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// resetConnection closes the client connection without sending anything; where the connection
// cannot be hijacked (HTTP/2) it aborts the handler, which also drops the stream.
func resetConnection(w http.ResponseWriter) {
	markOutcome(w, "reset")
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}
