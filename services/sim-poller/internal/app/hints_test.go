package app_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
)

// fakeQueue keeps what it was asked to enqueue, or fails with err.
type fakeQueue struct {
	got []events.SyncRequest
	err error
}

func (q *fakeQueue) Enqueue(_ context.Context, req events.SyncRequest) error {
	if q.err != nil {
		return q.err
	}
	q.got = append(q.got, req)
	return nil
}

func event(kind, iccid string) app.StreamRecord {
	return app.StreamRecord{EventType: kind, ICCID: iccid}
}

func TestHintsAccept(t *testing.T) {
	t.Parallel()
	usage := app.StreamRecord{Usage: true, ICCID: iccid(9)}
	tests := []struct {
		name     string
		recs     []app.StreamRecord
		queueErr error
		// want counts records by outcome; sims the SIMs of the request (nil: none enqueued).
		want    map[string]int
		sims    []string
		wantErr error
	}{
		{name: "relevant events enqueue one request naming each SIM once",
			recs: []app.StreamRecord{event("SIM activation", iccid(2)), event("Create PDP Context", iccid(1)), event("SIM activation", iccid(2))},
			want: map[string]int{app.RecordRelevant: 3}, sims: []string{iccid(1), iccid(2)}},
		{name: "event types match whatever their case and spacing", recs: []app.StreamRecord{event("  sim ACTIVATION ", iccid(1))},
			want: map[string]int{app.RecordRelevant: 1}, sims: []string{iccid(1)}},
		{name: "usage records are counted, never enqueued", recs: []app.StreamRecord{usage},
			want: map[string]int{app.RecordUsage: 1}},
		{name: "other event types are ignored", recs: []app.StreamRecord{event("Update location", iccid(1)), event("", iccid(2))},
			want: map[string]int{app.RecordIrrelevant: 2}},
		{name: "a relevant event without a valid ICCID is invalid", recs: []app.StreamRecord{event("SIM activation", ""), event("SIM activation", "89x")},
			want: map[string]int{app.RecordInvalid: 2}},
		{name: "a mixed batch enqueues only its relevant SIMs",
			recs: []app.StreamRecord{usage, event("Update location", iccid(3)), event("SIM deletion", iccid(4)), event("SIM deletion", "")},
			want: map[string]int{app.RecordUsage: 1, app.RecordIrrelevant: 1, app.RecordRelevant: 1, app.RecordInvalid: 1}, sims: []string{iccid(4)}},
		{name: "a batch that cannot be enqueued must be sent again", recs: []app.StreamRecord{event("SIM activation", iccid(1))},
			queueErr: errors.New("sqs down"), want: map[string]int{app.RecordRelevant: 1}, wantErr: app.ErrEnqueue},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q := &fakeQueue{err: tc.queueErr}
			h, err := app.NewHints(q, []string{"SIM activation", "Create PDP Context", "SIM deletion"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			clock := newFakeClock()
			h.Clock = clock
			ids := make([]string, len(tc.recs))
			for i := range ids {
				ids[i] = fmt.Sprint(i)
			}
			b, err := h.Accept(context.Background(), tc.recs, ids)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) || fmt.Sprint(b.Records) != fmt.Sprint(tc.want) {
				t.Fatalf("batch %+v, err %v; want records %v, err %v", b, err, tc.want, tc.wantErr)
			}
			if tc.sims == nil {
				if len(q.got) != 0 || b.RequestID != "" {
					t.Fatalf("enqueued %+v (request %q), want nothing", q.got, b.RequestID)
				}
				return
			}
			if len(q.got) != 1 {
				t.Fatalf("enqueued %d requests, want 1", len(q.got))
			}
			req := q.got[0]
			if fmt.Sprint(req.ICCIDs) != fmt.Sprint(tc.sims) || req.ID != app.BatchID(ids) || b.RequestID != req.ID || b.SIMs != len(tc.sims) ||
				req.Source != events.SourceDataStreamer || !req.RequestedAt.Equal(clock.Now()) {
				t.Fatalf("request %+v, batch %+v", req, b)
			}
		})
	}
}

// TestBatchIDIsTheSameForTheSameRecords: 1NCE sending a batch again, in
// any order, gives the same request id, which SQS FIFO deduplicates.
func TestBatchIDIsTheSameForTheSameRecords(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a, b []string
		same bool
	}{
		{name: "same records, same order", a: []string{"1", "2"}, b: []string{"1", "2"}, same: true},
		{name: "same records, other order", a: []string{"1", "2"}, b: []string{"2", "1"}, same: true},
		{name: "other records", a: []string{"1", "2"}, b: []string{"1", "3"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := app.BatchID(tc.a) == app.BatchID(tc.b); got != tc.same {
				t.Fatalf("same id = %v, want %v", got, tc.same)
			}
		})
	}
}

func TestNewHintsNeedsAQueueAndEventTypes(t *testing.T) {
	t.Parallel()
	if _, err := app.NewHints(&fakeQueue{}, nil, nil); err == nil {
		t.Fatal("hints without event types")
	}
	if _, err := app.NewHints(nil, []string{"SIM activation"}, nil); err == nil {
		t.Fatal("hints without a queue")
	}
	if _, err := app.NewHints(&fakeQueue{}, []string{"SIM activation"}, []string{"Create PDP Context"}); err == nil {
		t.Fatal("a quiet event type that is not relevant")
	}
}

// TestQuietHintsCarryTheirIP: a SIM that only data-session events name is
// a quiet hint with the event's IP; any other event for it in the batch
// makes it an ordinary one.
func TestQuietHintsCarryTheirIP(t *testing.T) {
	t.Parallel()
	q := &fakeQueue{}
	h, err := app.NewHints(q, []string{"SIM activation", "Create PDP Context"}, []string{"create pdp context"})
	if err != nil {
		t.Fatal(err)
	}
	pdp := func(n int, ip string) app.StreamRecord {
		return app.StreamRecord{EventType: "Create PDP Context", ICCID: iccid(n), IP: ip}
	}
	recs := []app.StreamRecord{pdp(1, "10.0.0.1"), pdp(2, "10.0.0.2"), event("SIM activation", iccid(2)), pdp(3, ""), pdp(1, "10.0.0.9")}
	if _, err := h.Accept(context.Background(), recs, []string{"a", "b", "c", "d", "e"}); err != nil {
		t.Fatal(err)
	}
	req := q.got[0]
	if fmt.Sprint(req.ICCIDs) != fmt.Sprint([]string{iccid(1), iccid(2), iccid(3)}) || len(req.Quiet) != 1 || req.Quiet[iccid(1)] != "10.0.0.9" {
		t.Fatalf("request %+v: want all three SIMs, only SIM 1 quiet at its last IP", req)
	}
	if err := req.Validate(); err != nil {
		t.Fatal(err)
	}
}
