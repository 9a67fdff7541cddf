package oncesim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/simbridge/simbridge/libs/onceapi"
)

// The simulated Data Streamer posts the events the inventory's changes
// cause, as 1NCE's HTTP integration does: a JSON array of up to 3,000
// records every interval, HTTP Basic authentication, a batch sent again
// (with backoff) until it is answered 200. It can be told to misbehave the
// ways a receiver must survive: every batch twice, batches newest first,
// usage records mixed in, and garbage requests.

// StreamConfig is the body of PUT /admin/streamer; an empty URL turns the
// streamer off.
type StreamConfig struct {
	URL      string `json:"url"`
	User     string `json:"user"`
	Password string `json:"password,omitempty"`
	// IntervalMS is how often a batch goes out (default 500).
	IntervalMS int `json:"interval_ms,omitempty"`
	// MaxBatch is the most records per request (default and at most 3,000).
	MaxBatch int `json:"max_batch,omitempty"`
	// Duplicates sends every batch twice.
	Duplicates bool `json:"duplicates,omitempty"`
	// OutOfOrder sends each batch's newer half before its older half.
	OutOfOrder bool `json:"out_of_order,omitempty"`
	// Usage mixes a usage record per SIM into every batch.
	Usage bool `json:"usage,omitempty"`
	// Garbage sends a request that is not JSON before every batch.
	Garbage bool `json:"garbage,omitempty"`
}

// validate checks a configuration and fills its defaults.
func (c StreamConfig) validate() (StreamConfig, error) {
	if c.URL == "" {
		return c, nil
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("streamer url %q: want http(s)://host/path", c.URL)
	}
	if c.User == "" || c.Password == "" {
		return c, errors.New("streamer: user and password are required (the Data Streamer always sends Basic credentials)")
	}
	if c.IntervalMS < 0 || c.MaxBatch < 0 || c.MaxBatch > onceapi.MaxStreamRecords {
		return c, fmt.Errorf("streamer: interval_ms must not be negative, max_batch 1-%d", onceapi.MaxStreamRecords)
	}
	if c.IntervalMS == 0 {
		c.IntervalMS = 500
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = onceapi.MaxStreamRecords
	}
	return c, nil
}

// StreamState is GET /admin/streamer: the configuration (password
// masked) and what the streamer did.
type StreamState struct {
	StreamConfig
	Enabled bool `json:"enabled"`
	// Pending counts records not acknowledged yet.
	Pending int `json:"pending"`
	// Batches and Records count what was acknowledged with 200 (a
	// duplicate counts once); Sent counts every request, Retries those
	// sent again after a failure, GarbageSent the garbage ones.
	Batches     int64  `json:"batches"`
	Records     int64  `json:"records"`
	Sent        int64  `json:"sent"`
	Retries     int64  `json:"retries"`
	GarbageSent int64  `json:"garbage_sent"`
	LastStatus  int    `json:"last_status,omitempty"`
	LastError   string `json:"last_error,omitempty"`
}

// streamer holds the pending events and the loop that posts them.
type streamer struct {
	hc  *http.Client
	log *slog.Logger

	mu      sync.Mutex
	cfg     StreamConfig
	pending []onceapi.StreamRecord
	state   StreamState
	stop    context.CancelFunc
	done    chan struct{}
	nextID  int64
}

func newStreamer(log *slog.Logger) *streamer {
	return &streamer{hc: &http.Client{Timeout: 30 * time.Second}, log: log, nextID: time.Now().UnixMilli() * 1000}
}

// configure replaces the configuration, dropping pending events when the
// streamer is turned off, and (re)starts the loop.
func (s *streamer) configure(cfg StreamConfig) error {
	cfg, err := cfg.validate()
	if err != nil {
		return err
	}
	s.halt()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg = cfg
	s.state = StreamState{}
	if cfg.URL == "" {
		s.pending = nil
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop, s.done = cancel, make(chan struct{})
	go s.loop(ctx, s.done)
	return nil
}

// halt stops the loop and waits for it.
func (s *streamer) halt() {
	s.mu.Lock()
	stop, done := s.stop, s.done
	s.stop, s.done = nil, nil
	s.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// emit queues records while the streamer is on.
func (s *streamer) emit(recs ...onceapi.StreamRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.URL == "" {
		return
	}
	for _, r := range recs {
		if r.ID == "" {
			s.nextID++
			r.ID = onceapi.RecordID(fmt.Sprint(s.nextID))
		}
		s.pending = append(s.pending, r)
	}
}

// newID returns a fresh record id.
func (s *streamer) newID() onceapi.RecordID {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	return onceapi.RecordID(fmt.Sprint(s.nextID))
}

// snapshot is the state for GET /admin/streamer.
func (s *streamer) snapshot() StreamState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state
	st.StreamConfig, st.Enabled, st.Pending = s.cfg, s.cfg.URL != "", len(s.pending)
	if st.Password != "" {
		st.Password = "***"
	}
	return st
}

// loop sends a batch every interval until ctx ends.
func (s *streamer) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	s.mu.Lock()
	interval := time.Duration(s.cfg.IntervalMS) * time.Millisecond
	s.mu.Unlock()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for s.sendBatch(ctx) {
		}
	}
}

// sendBatch posts the oldest pending records (until they are acknowledged
// or ctx ends) and reports whether more are waiting.
func (s *streamer) sendBatch(ctx context.Context) bool {
	s.mu.Lock()
	cfg := s.cfg
	n := min(len(s.pending), cfg.MaxBatch)
	batch := append([]onceapi.StreamRecord(nil), s.pending[:n]...)
	s.mu.Unlock()
	if n == 0 {
		return false
	}
	parts := [][]onceapi.StreamRecord{batch}
	if cfg.OutOfOrder && n > 1 {
		parts = [][]onceapi.StreamRecord{batch[n/2:], batch[:n/2]}
	}
	for _, part := range parts {
		if cfg.Usage {
			part = append(slices.Clip(part), s.usageFor(part)...)
		}
		if cfg.Garbage {
			s.sendGarbage(ctx, cfg)
		}
		copies := 1
		if cfg.Duplicates {
			copies = 2
		}
		for c := range copies {
			if err := s.deliver(ctx, cfg, part); err != nil {
				return false
			}
			if c == 0 {
				s.count(func(st *StreamState) { st.Batches++; st.Records += int64(len(part)) })
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) >= n { // not reconfigured meanwhile
		s.pending = s.pending[n:]
	}
	return len(s.pending) > 0
}

// deliver posts recs until the answer is 200 or ctx ends, backing off
// between tries as 1NCE does.
func (s *streamer) deliver(ctx context.Context, cfg StreamConfig, recs []onceapi.StreamRecord) error {
	body, err := json.Marshal(recs)
	if err != nil {
		return err
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = 200*time.Millisecond, 5*time.Second
	first := true
	_, err = backoff.Retry(ctx, func() (struct{}, error) {
		if !first {
			s.count(func(st *StreamState) { st.Retries++ })
		}
		first = false
		status, err := s.post(ctx, cfg, body)
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("receiver answered %d", status)
		}
		return struct{}{}, err
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(0))
	return err
}

// sendGarbage posts a body that is not JSON; whatever the answer, the
// streamer goes on (the receiver must refuse it, not choke on it).
func (s *streamer) sendGarbage(ctx context.Context, cfg StreamConfig) {
	_, _ = s.post(ctx, cfg, []byte(`{"this is": not JSON, [`))
	s.count(func(st *StreamState) { st.GarbageSent++ })
}

// post sends one request and records its outcome.
func (s *streamer) post(ctx context.Context, cfg StreamConfig, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(cfg.User, cfg.Password)
	resp, err := s.hc.Do(req)
	s.count(func(st *StreamState) { st.Sent++ })
	if err != nil {
		s.count(func(st *StreamState) { st.LastError = err.Error() })
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	s.count(func(st *StreamState) { st.LastStatus, st.LastError = resp.StatusCode, "" })
	return resp.StatusCode, nil
}

func (s *streamer) count(f func(*StreamState)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.state)
}

// usageFor is a data usage record for each SIM of recs.
func (s *streamer) usageFor(recs []onceapi.StreamRecord) []onceapi.StreamRecord {
	seen := map[string]bool{}
	var out []onceapi.StreamRecord
	for _, r := range recs {
		if r.SIM == nil || seen[r.SIM.ICCID] {
			continue
		}
		seen[r.SIM.ICCID] = true
		now := time.Now().UTC()
		cost := 0.0012
		out = append(out, onceapi.StreamRecord{ID: s.newID(), SIM: &onceapi.StreamSIM{ICCID: r.SIM.ICCID},
			TrafficType:    &onceapi.StreamType{ID: 5, Description: "Data"},
			StartTimestamp: now.Add(-time.Minute).Format(time.RFC3339), EndTimestamp: now.Format(time.RFC3339),
			Volume: json.RawMessage(`{"total":0.12,"rx":0.1,"tx":0.02}`), Cost: &cost, Endpoint: r.Endpoint})
	}
	return out
}

// Event type ids the simulator sends with each description.
var eventTypeIDs = map[string]int{
	onceapi.EventUpdateLocation: 1, onceapi.EventCreatePDPContext: 3, onceapi.EventDeletePDPContext: 5,
	onceapi.EventSIMActivation: 8, onceapi.EventSIMSuspension: 9, onceapi.EventSIMDeletion: 10,
	onceapi.EventSIMAdded: 100, onceapi.EventIPAddressChanged: 101,
}

// eventsFor are the records a change of the inventory causes.
func eventsFor(before, after *onceapi.SIM) []onceapi.StreamRecord {
	var kinds []string
	sim := after
	switch {
	case before == nil && after != nil:
		kinds = append(kinds, onceapi.EventSIMAdded)
		if after.Status == onceapi.StatusEnabled && after.IPAddress != "" {
			kinds = append(kinds, onceapi.EventCreatePDPContext)
		}
	case after == nil && before != nil:
		kinds, sim = append(kinds, onceapi.EventSIMDeletion), before
	case before != nil && after != nil:
		if before.Status != after.Status {
			if after.Status == onceapi.StatusEnabled {
				kinds = append(kinds, onceapi.EventSIMActivation)
			} else {
				kinds = append(kinds, onceapi.EventSIMSuspension)
			}
		}
		if before.IPAddress != after.IPAddress {
			kinds = append(kinds, onceapi.EventIPAddressChanged)
		}
		if len(kinds) > 0 && after.Status == onceapi.StatusEnabled && after.IPAddress != "" {
			kinds = append(kinds, onceapi.EventCreatePDPContext)
		}
	}
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	out := make([]onceapi.StreamRecord, 0, len(kinds))
	for _, k := range kinds {
		source := onceapi.StreamType{ID: 2, Description: "API"}
		if k == onceapi.EventCreatePDPContext {
			source = onceapi.StreamType{ID: 0, Description: "Network"}
		}
		out = append(out, onceapi.StreamRecord{
			Timestamp: now, EventType: &onceapi.StreamType{ID: eventTypeIDs[k], Description: k},
			EventSeverity: &onceapi.StreamType{ID: 0, Description: "INFO"}, EventSource: &source,
			Description: k + " for SIM " + sim.ICCID,
			SIM:         &onceapi.StreamSIM{ICCID: sim.ICCID, MSISDN: sim.MSISDN},
			Endpoint:    &onceapi.StreamEndpoint{Name: sim.ICCID, IMEI: sim.IMEI, IPAddress: sim.IPAddress},
		})
	}
	return out
}
