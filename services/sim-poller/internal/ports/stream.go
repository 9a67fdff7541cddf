package ports

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
)

// HintAcceptor enqueues the SIMs of Data Streamer records (app.Hints).
type HintAcceptor interface {
	Accept(ctx context.Context, recs []app.StreamRecord, ids []string) (app.HintBatch, error)
}

// Credentials are the Basic credentials the Data Streamer may present:
// the current ones and, during a rotation, the others still accepted.
type Credentials interface {
	// Accepted returns SHA-256 digests of "user:password".
	Accepted() [][sha256.Size]byte
	// Refresh re-reads them (rate-limited); it reports whether it read.
	Refresh(ctx context.Context) (bool, error)
}

// StreamObserver counts what the receiver did, for metrics.
type StreamObserver interface {
	StreamRequest(code int)
	StreamRecords(outcome string, n int)
}

// StreamLimits bound what one request may hold.
type StreamLimits struct {
	MaxBytes   int64
	MaxRecords int
	MaxDepth   int
	// EnqueueTimeout bounds the durable enqueue (SQS); 1NCE retries after a 503.
	EnqueueTimeout time.Duration
	// MaxConcurrent requests are processed at once; more get 503.
	MaxConcurrent int
}

// Receiver is the Data Streamer endpoint: POST Path (or Path with a
// trailing slash, as 1NCE's guide writes endpoint URLs) with HTTP Basic
// authentication and a JSON array of records.
//
//	200 the relevant SIMs are durably enqueued (or none was relevant)
//	400 not a JSON array of objects, or nested deeper than MaxDepth
//	401 missing or wrong credentials
//	405 not a POST; 404 another path
//	413 more than MaxBytes or MaxRecords
//	503 the request could not be enqueued, or too many are in progress:
//	    1NCE sends it again later
//
// Authentication comes first and is compared in constant time (digests of
// "user:password", every accepted one compared); the body is read only
// after it, within MaxBytes. An answer given before the body is read (401,
// 503 busy, 404, 405) closes the connection without reading further: the
// server would otherwise read what is left of the body to reuse the
// connection, so an unauthenticated client sending a slow body could hold
// it for the whole read timeout.
type Receiver struct {
	Path     string
	Hints    HintAcceptor
	Creds    Credentials
	Limits   StreamLimits
	Observer StreamObserver
	Logger   *slog.Logger
	slots    chan struct{}
}

// Handler returns the receiver's handler.
func (rc *Receiver) Handler() http.Handler {
	rc.slots = make(chan struct{}, max(rc.Limits.MaxConcurrent, 1))
	return http.HandlerFunc(rc.serve)
}

type streamAnswer struct {
	Message string `json:"message,omitempty"`
	app.HintBatch
}

func (rc *Receiver) serve(w http.ResponseWriter, r *http.Request) {
	body := &readTracker{ReadCloser: r.Body}
	r.Body = body
	code, ans := rc.handle(w, r)
	r.Body = body.ReadCloser
	rc.Observer.StreamRequest(code)
	if !body.read && r.ContentLength != 0 {
		// The body is not wanted: answer, stop reading (the server would
		// otherwise drain up to 256 KiB of it at the client's pace before
		// closing) and close.
		w.Header().Set("Connection", "close")
		_ = http.NewResponseController(w).SetReadDeadline(time.Now())
	}
	switch code {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Basic realm="simbridge", charset="UTF-8"`)
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "10")
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", http.MethodPost)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(ans)
}

func (rc *Receiver) handle(w http.ResponseWriter, r *http.Request) (int, streamAnswer) {
	switch {
	case !rc.onPath(r.URL.Path):
		return http.StatusNotFound, streamAnswer{Message: "not found"}
	case r.Method != http.MethodPost:
		return http.StatusMethodNotAllowed, streamAnswer{Message: "POST a JSON array of Data Streamer records"}
	case !rc.authenticated(r):
		rc.Logger.Warn("data streamer request refused: bad credentials", "remote", r.RemoteAddr)
		return http.StatusUnauthorized, streamAnswer{Message: "unauthorized"}
	}
	select {
	case rc.slots <- struct{}{}:
		defer func() { <-rc.slots }()
	default:
		return http.StatusServiceUnavailable, streamAnswer{Message: "busy, send again later"}
	}
	recs, ids, code, err := rc.read(w, r)
	if err != nil {
		rc.Logger.Warn("data streamer request refused", "code", code, "error", err)
		return code, streamAnswer{Message: err.Error()}
	}
	ctx, cancel := context.WithTimeout(r.Context(), rc.Limits.EnqueueTimeout)
	defer cancel()
	batch, err := rc.Hints.Accept(ctx, recs, ids)
	for outcome, n := range batch.Records {
		rc.Observer.StreamRecords(outcome, n)
	}
	if err != nil {
		rc.Logger.Error("data streamer batch not enqueued; 1NCE will send it again", "records", len(recs), "error", err)
		return http.StatusServiceUnavailable, streamAnswer{Message: "could not enqueue, send again later"}
	}
	rc.Logger.Info("data streamer batch", "records", batch.Records, "sims", batch.SIMs, "request", batch.RequestID)
	return http.StatusOK, streamAnswer{HintBatch: batch}
}

// onPath reports whether path is the receiver's, with or without a
// trailing slash.
func (rc *Receiver) onPath(path string) bool {
	if path == rc.Path {
		return true
	}
	trimmed := strings.TrimSuffix(rc.Path, "/")
	return trimmed != "" && (path == trimmed || path == trimmed+"/")
}

// readTracker notes whether the handler started reading the body.
type readTracker struct {
	io.ReadCloser
	read bool
}

func (b *readTracker) Read(p []byte) (int, error) {
	b.read = true
	return b.ReadCloser.Read(p)
}

// authenticated compares the presented credentials with every accepted
// pair in constant time, and re-reads the secret once (rate-limited) before
// refusing a well-formed pair it does not know (the secret may have been
// rotated since it was read).
func (rc *Receiver) authenticated(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	got := sha256.Sum256([]byte(user + ":" + pass))
	if matches(got, rc.Creds.Accepted()) {
		return true
	}
	if refreshed, err := rc.Creds.Refresh(r.Context()); err != nil {
		rc.Logger.Warn("data streamer credentials refresh failed", "error", err)
	} else if refreshed {
		return matches(got, rc.Creds.Accepted())
	}
	return false
}

func matches(got [sha256.Size]byte, accepted [][sha256.Size]byte) bool {
	ok := 0
	for _, a := range accepted {
		ok |= subtle.ConstantTimeCompare(got[:], a[:])
	}
	return ok == 1
}

// errTooMany marks a body with more records than allowed (413).
var errTooMany = errors.New("too many records")

// read takes the body within the limits and decodes the records; ids are
// the record ids (a digest of the record when it has none), for
// deduplication.
func (rc *Receiver) read(w http.ResponseWriter, r *http.Request) ([]app.StreamRecord, []string, int, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, rc.Limits.MaxBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, nil, http.StatusRequestEntityTooLarge, fmt.Errorf("body larger than %d bytes", rc.Limits.MaxBytes)
	case err != nil:
		return nil, nil, http.StatusBadRequest, fmt.Errorf("read body: %w", err)
	}
	if err := checkDepth(body, rc.Limits.MaxDepth); err != nil {
		return nil, nil, http.StatusBadRequest, err
	}
	recs, ids, err := decodeRecords(body, rc.Limits.MaxRecords)
	switch {
	case errors.Is(err, errTooMany):
		return nil, nil, http.StatusRequestEntityTooLarge, err
	case err != nil:
		return nil, nil, http.StatusBadRequest, err
	}
	return recs, ids, http.StatusOK, nil
}

// checkDepth refuses a body that is not a JSON array or nests objects and
// arrays deeper than max, before any decoding: one linear pass, so a
// hostile body costs no more than its size.
func checkDepth(body []byte, max int) error {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '[' {
		return errors.New("body is not a JSON array of records")
	}
	depth, inString, escaped := 0, false, false
	for _, c := range trimmed {
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case inString && c == '"':
			inString = false
		case inString:
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			if depth++; depth > max {
				return fmt.Errorf("body nests deeper than %d levels", max)
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return nil
}

// decodeRecords decodes the array one record at a time, stopping at the
// first record beyond maxRecords, and keeps of each what app.Hints reads.
func decodeRecords(body []byte, maxRecords int) ([]app.StreamRecord, []string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil {
		return nil, nil, fmt.Errorf("body is not a JSON array: %w", err)
	}
	var recs []app.StreamRecord
	var ids []string
	for dec.More() {
		if len(recs) == maxRecords {
			return nil, nil, fmt.Errorf("%w: more than %d in one request", errTooMany, maxRecords)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, fmt.Errorf("record %d: %w", len(recs)+1, err)
		}
		if len(raw) == 0 || raw[0] != '{' {
			return nil, nil, fmt.Errorf("record %d is not a JSON object", len(recs)+1)
		}
		// A field of an unexpected type (1NCE's schema grew) leaves the
		// rest of the record decoded; what simbridge needs is checked later.
		var rec onceapi.StreamRecord
		var typeErr *json.UnmarshalTypeError
		if err := json.Unmarshal(raw, &rec); err != nil && !errors.As(err, &typeErr) {
			return nil, nil, fmt.Errorf("record %d: %w", len(recs)+1, err)
		}
		id := string(rec.ID)
		if id == "" {
			sum := sha256.Sum256(raw)
			id = "sha256:" + hex.EncodeToString(sum[:])
		}
		recs, ids = append(recs, hintOf(rec)), append(ids, strconv.Quote(id))
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, fmt.Errorf("body is not a complete JSON array: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, errors.New("data after the JSON array")
	}
	return recs, ids, nil
}

// hintOf is what app.Hints reads of a record: whether it is a usage
// record, its event type, its SIM and the IP the event gives its device
// (which can only spare a lookup: app/triage.go).
func hintOf(r onceapi.StreamRecord) app.StreamRecord {
	h := app.StreamRecord{Usage: r.IsUsage()}
	if r.EventType != nil {
		h.EventType = r.EventType.Description
	}
	if r.SIM != nil {
		h.ICCID = r.SIM.ICCID
	}
	if r.Endpoint != nil {
		h.IP = r.Endpoint.IPAddress
	}
	return h
}
