package app

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simip"
	"github.com/simbridge/simbridge/libs/simrec"
)

// The Data Streamer sends an event for every data session of every device:
// a fleet of a million devices sends far more of them than 1NCE's 10
// requests/s could look up, and almost none of them changes anything. So
// before a hint costs a lookup, Triage drops what 1NCE cannot tell anything
// new about:
//
//  1. Quiet hints (events.SyncRequest.Quiet): a SIM named only by events
//     that cannot change its state (a PDP context), whose record is active
//     at the IP the event gives. An event is still never a reason to grant
//     access: a hint that is kept is looked up, and only 1NCE's answer counts.
//  2. Unknown SIMs (no record) beyond a bound: at most PerBatch a request and
//     the Unknown limiter's rate overall, and none that 1NCE said within
//     NegativeTTL it does not hold. A flood of made-up ICCIDs then costs a
//     few lookups a minute; a real new SIM dropped here is created by the
//     next full sync (or by its next event once the bound has room).
//
// Operators' requests are never triaged: they ask for exactly those SIMs.

// Reasons Triage drops a hint.
const (
	DropQuiet        = "quiet"
	DropUnknown      = "unknown_bounded"
	DropRecentlyGone = "recently_gone"
)

// Peeker reads records' summaries, possibly a moment old: an eventually
// consistent read costs half a strongly consistent one, and whether a hint
// can be ignored does not depend on the last milliseconds.
type Peeker interface {
	Peek(ctx context.Context, iccid string) (simrec.Summary, error)
	GetMany(ctx context.Context, iccids []string, peek bool) (map[string]simrec.Record, error)
}

// Triage sifts Data Streamer hints before their lookups.
type Triage struct {
	Records Peeker
	// Unknown paces the lookups of SIMs without a record across requests;
	// PerBatch bounds them in one request.
	Unknown  *rate.Limiter
	PerBatch int
	// NegativeTTL is how long a SIM 1NCE does not hold is not asked about
	// again for a hint.
	NegativeTTL time.Duration
	Clock       Clock
	// Observe, when set, is told how many hints were dropped, by reason.
	Observe func(reason string, n int)
	mu      sync.Mutex
	gone    map[string]time.Time
}

// maxGone bounds the negative cache.
const maxGone = 100_000

// NewTriage bounds unknown SIMs to perBatch a request and perMinute overall.
func NewTriage(records Peeker, perBatch int, perMinute float64, negativeTTL time.Duration) (*Triage, error) {
	if records == nil || perBatch < 0 || perMinute < 0 || negativeTTL < 0 {
		return nil, errors.New("triage: a record store and non-negative bounds are required")
	}
	return &Triage{Records: records, PerBatch: perBatch, NegativeTTL: negativeTTL, Clock: SystemClock{},
		Unknown: rate.NewLimiter(rate.Limit(perMinute/60), max(perBatch, 1)), gone: map[string]time.Time{}}, nil
}

// Sift returns the ICCIDs of req worth a lookup and how many it dropped, by
// reason. A record that cannot be read keeps its SIM (looked up as before).
func (t *Triage) Sift(ctx context.Context, req events.SyncRequest) ([]string, map[string]int) {
	dropped := map[string]int{}
	known := t.known(ctx, req.ICCIDs)
	var keep []string
	unknown := 0
	now := t.Clock.Now()
	for _, id := range req.ICCIDs {
		rec, found := known[id]
		switch {
		case found && quietMatch(rec, req.Quiet[id]):
			dropped[DropQuiet]++
		case found || rec.readFailed:
			keep = append(keep, id)
		case t.recentlyGone(id, now):
			dropped[DropRecentlyGone]++
		case unknown < t.PerBatch && t.Unknown.AllowN(now, 1):
			unknown++
			keep = append(keep, id)
		default:
			dropped[DropUnknown]++
		}
	}
	if t.Observe != nil {
		for reason, n := range dropped {
			t.Observe(reason, n)
		}
	}
	return keep, dropped
}

// read is what Sift learnt of one SIM's record.
type read struct {
	simrec.Summary
	readFailed bool
}

// known reads the records of iccids in one go (an eventually consistent
// BatchGetItem: one request for a burst); a SIM without a record is absent
// from the map. When the read fails, every SIM is kept (readFailed).
func (t *Triage) known(ctx context.Context, iccids []string) map[string]read {
	out := map[string]read{}
	recs, err := t.Records.GetMany(ctx, iccids, true)
	for _, id := range iccids {
		switch rec, found := recs[id]; {
		case err != nil:
			out[id] = read{readFailed: true}
		case found:
			out[id] = read{Summary: rec.Summary()}
		}
	}
	return out
}

// quietMatch reports whether a quiet hint's IP is where the SIM's record is
// active: the event says nothing the record does not.
func quietMatch(r read, eventIP string) bool {
	if eventIP == "" || r.readFailed || !r.Active || r.State != simrec.StateActive {
		return false
	}
	ip, err := simip.Normalize(eventIP)
	return err == nil && ip == r.IP
}

// Learn remembers the SIMs a targeted sync found 1NCE does not hold.
func (t *Triage) Learn(sum TargetSummary) {
	if len(sum.notFound) == 0 || t.NegativeTTL <= 0 {
		return
	}
	now := t.Clock.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.gone)+len(sum.notFound) > maxGone {
		for id, at := range t.gone {
			if now.Sub(at) > t.NegativeTTL {
				delete(t.gone, id)
			}
		}
	}
	for _, id := range sum.notFound {
		if len(t.gone) < maxGone {
			t.gone[id] = now
		}
	}
}

func (t *Triage) recentlyGone(id string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, ok := t.gone[id]
	if ok && now.Sub(at) > t.NegativeTTL {
		delete(t.gone, id)
		return false
	}
	return ok
}
