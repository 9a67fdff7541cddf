package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/simbridge/simbridge/libs/events"
)

// The Data Streamer tells sim-poller, within seconds, that something
// happened to some SIMs. Those records are hints, never facts: Accept only
// takes the ICCIDs of relevant events and enqueues them as one targeted
// sync request, which looks each SIM up in 1NCE's API (SyncSIMs). No field
// of an event (status, IP) is ever acted on, so a forged or stale event can
// at worst cause a lookup. The request is durably enqueued before 1NCE's
// request is acknowledged; a batch 1NCE sends again has the same record ids
// and so the same request id, which SQS FIFO deduplicates.

// HintQueue durably enqueues a sync request.
type HintQueue interface {
	Enqueue(ctx context.Context, req events.SyncRequest) error
}

// ErrEnqueue means a batch's request could not be enqueued: 1NCE must send
// it again.
var ErrEnqueue = errors.New("sync request not enqueued")

// Record outcomes counted in a HintBatch.
const (
	RecordRelevant   = "relevant"
	RecordUsage      = "usage"
	RecordIrrelevant = "irrelevant"
	RecordInvalid    = "invalid"
)

// HintBatch is what Accept made of one Data Streamer request.
type HintBatch struct {
	// Records counts the records by outcome: relevant (an event naming a
	// valid ICCID), usage, irrelevant (other event types), invalid (a
	// relevant event without a valid ICCID).
	Records map[string]int `json:"records"`
	// SIMs is how many distinct SIMs the request names; RequestID its id
	// (empty when nothing was relevant and nothing was enqueued).
	SIMs      int    `json:"sims"`
	RequestID string `json:"request_id,omitempty"`
}

// Hints turns Data Streamer records into sync requests.
type Hints struct {
	Queue HintQueue
	// relevant are the event types (lowercase descriptions) that may mean a
	// SIM changed in a way simbridge cares about.
	relevant map[string]bool
	// quiet are the relevant event types that cannot change a SIM's state
	// themselves (a data session): a SIM named only by them, with an IP, is
	// a quiet hint (events.SyncRequest.Quiet), looked up only when its record
	// disagrees (Triage).
	quiet map[string]bool
	// Clock stamps the requests (SystemClock).
	Clock Clock
}

// NewHints accepts the event types named in relevant (descriptions, any
// case), those in quiet among them as quiet hints.
func NewHints(q HintQueue, relevant, quiet []string) (*Hints, error) {
	if q == nil || len(relevant) == 0 {
		return nil, errors.New("hints: a queue and at least one relevant event type are required")
	}
	h := &Hints{Queue: q, relevant: map[string]bool{}, quiet: map[string]bool{}, Clock: SystemClock{}}
	for _, r := range relevant {
		h.relevant[normalizeType(r)] = true
	}
	for _, r := range quiet {
		if !h.relevant[normalizeType(r)] {
			return nil, fmt.Errorf("hints: quiet event type %q is not among the relevant ones", r)
		}
		h.quiet[normalizeType(r)] = true
	}
	return h, nil
}

// StreamRecord is what Accept reads of one Data Streamer record; the
// receiver decodes the wire format (onceapi.StreamRecord) into it, so no
// other field of an event can reach a decision.
type StreamRecord struct {
	// Usage is set on usage records (traffic, no event).
	Usage bool
	// EventType is the event type's description ("" when none).
	EventType string
	// ICCID is the record's SIM ("" when none).
	ICCID string
	// IP is the address the event gives the SIM's device ("" when none).
	IP string
}

// Accept classifies recs and enqueues one request for the SIMs of the
// relevant ones; it fails (wrapping ErrEnqueue) only when that request
// could not be enqueued.
func (h *Hints) Accept(ctx context.Context, recs []StreamRecord, ids []string) (HintBatch, error) {
	b := HintBatch{Records: map[string]int{}}
	var iccids []string
	quiet, loud := map[string]string{}, map[string]bool{}
	for _, r := range recs {
		outcome := h.classify(r)
		b.Records[outcome]++
		if outcome != RecordRelevant {
			continue
		}
		iccids = append(iccids, r.ICCID)
		if h.quiet[normalizeType(r.EventType)] && r.IP != "" {
			quiet[r.ICCID] = r.IP
		} else {
			loud[r.ICCID] = true
		}
	}
	iccids = unique(iccids)
	b.SIMs = len(iccids)
	if len(iccids) == 0 {
		return b, nil
	}
	for id := range loud {
		delete(quiet, id) // a SIM any other event names is looked up
	}
	req := events.SyncRequest{ID: BatchID(ids), ICCIDs: iccids, Source: events.SourceDataStreamer, RequestedAt: h.Clock.Now().UTC()}
	if len(quiet) > 0 {
		req.Quiet = quiet
	}
	if err := h.Queue.Enqueue(ctx, req); err != nil {
		return b, fmt.Errorf("%w: %w", ErrEnqueue, err)
	}
	b.RequestID = req.ID
	return b, nil
}

// classify says what a record is to simbridge.
func (h *Hints) classify(r StreamRecord) string {
	switch {
	case r.Usage:
		return RecordUsage
	case r.EventType == "" || !h.relevant[normalizeType(r.EventType)]:
		return RecordIrrelevant
	case !events.ValidICCID(r.ICCID):
		return RecordInvalid
	default:
		return RecordRelevant
	}
}

// BatchID identifies a Data Streamer request by its records: the same
// records, in any order, give the same id (the SQS deduplication id).
func BatchID(recordIDs []string) string {
	ids := slices.Clone(recordIDs)
	slices.Sort(ids)
	sum := sha256.Sum256([]byte(strings.Join(ids, "\n")))
	return "datastreamer-" + hex.EncodeToString(sum[:])
}

func normalizeType(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
