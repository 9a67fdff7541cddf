package oncesim

import (
	"bytes"
	"net/http"
	"strconv"
)

// captured is a buffered answer that fault rules can rewrite before it is sent.
type captured struct {
	header http.Header
	status int
	body   bytes.Buffer
}

// newCaptured starts an empty 200 answer.
func newCaptured() *captured {
	return &captured{header: http.Header{}, status: http.StatusOK}
}

// capture runs next into a buffer instead of the connection.
func capture(r *http.Request, next http.HandlerFunc) *captured {
	c := newCaptured()
	next(&captureWriter{c: c}, r)
	return c
}

// writeTo sends the answer with a Content-Length matching the (possibly rewritten) body.
func (c *captured) writeTo(w http.ResponseWriter) {
	c.copyHeader(w)
	w.WriteHeader(c.status)
	_, _ = w.Write(c.body.Bytes())
}

// writeTruncated announces the full length but sends only the headers and half the body; the
// server then closes the connection because the body is short, and the client sees an
// unexpected EOF.
func (c *captured) writeTruncated(w http.ResponseWriter) {
	c.copyHeader(w)
	w.WriteHeader(c.status)
	_, _ = w.Write(c.body.Bytes()[:c.body.Len()/2])
	_ = http.NewResponseController(w).Flush()
}

// copyHeader copies the headers and sets Content-Length to the full body length.
func (c *captured) copyHeader(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range c.header {
		h[k] = v
	}
	h.Set("Content-Length", strconv.Itoa(c.body.Len()))
}

// captureWriter is the http.ResponseWriter that fills a captured answer.
type captureWriter struct {
	c           *captured
	wroteHeader bool
}

// Header returns the captured headers.
func (w *captureWriter) Header() http.Header { return w.c.header }

// WriteHeader records the first status.
func (w *captureWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.c.status = code
		w.wroteHeader = true
	}
}

// Write buffers body bytes.
func (w *captureWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.c.body.Write(b)
}
