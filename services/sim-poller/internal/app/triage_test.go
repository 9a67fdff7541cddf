package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
)

// triageWorld is a target world whose sync requests go through Triage.
type triageWorld struct {
	*targetWorld
	requests *app.Requests
}

func newTriageWorld(t *testing.T, perBatch int, perMinute float64) *triageWorld {
	t.Helper()
	w := newTargetWorld(t)
	r, err := app.NewRequests(w.syncer, w.syncer, &fakeResults{}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if r.Triage, err = app.NewTriage(w.records, perBatch, perMinute, time.Minute); err != nil {
		t.Fatal(err)
	}
	r.Triage.Clock, r.Clock = w.clock, w.clock
	return &triageWorld{targetWorld: w, requests: r}
}

// hint runs one Data Streamer request and returns its summary and the
// 1NCE lookups it cost.
func (w *triageWorld) hint(t *testing.T, req events.SyncRequest) (app.TargetSummary, int) {
	t.Helper()
	req.Source, req.ID = events.SourceDataStreamer, fmt.Sprintf("req-%d", len(req.ICCIDs))
	w.sims.mu.Lock()
	before := len(w.sims.asked)
	w.sims.mu.Unlock()
	res, err := w.requests.Run(context.Background(), req, w.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	w.sims.mu.Lock()
	defer w.sims.mu.Unlock()
	return res.Summary.(app.TargetSummary), len(w.sims.asked) - before
}

// TestQuietHintsCostNoLookupWhenTheRecordAgrees: a data session of a SIM
// active at the event's IP costs no 1NCE lookup; any disagreement (another
// IP, a record without access, an event that can change the SIM) is
// looked up, and only 1NCE's answer decides.
func TestQuietHintsCostNoLookupWhenTheRecordAgrees(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		state   simrec.State
		quietIP string // "" means the event is not quiet
		lookups int
		publish events.Kind
	}{
		{name: "active at the event's IP", state: simrec.StateActive, quietIP: ip(1)},
		{name: "active at the event's IP in the mapped spelling", state: simrec.StateActive, quietIP: "::ffff:" + ip(1)},
		{name: "active at another IP", state: simrec.StateActive, quietIP: "10.9.9.9", lookups: 1, publish: events.KindUpdate},
		{name: "disabled record", state: simrec.StateDisabled, quietIP: ip(1), lookups: 1, publish: events.KindCreate},
		{name: "pending record: the create at work finishes it", state: simrec.StatePending, quietIP: ip(1), lookups: 1, publish: events.KindCreate},
		{name: "an event that can change the SIM", state: simrec.StateActive, lookups: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newTriageWorld(t, 20, 60)
			w.seed(t, iccid(1), ip(1), tc.state)
			remote := enabledSIM(1)
			if tc.publish == events.KindUpdate {
				remote.IP = "10.9.9.9"
			}
			w.sims.set(remote)
			req := events.SyncRequest{ICCIDs: []string{iccid(1)}}
			if tc.quietIP != "" {
				req.Quiet = map[string]string{iccid(1): tc.quietIP}
			}
			sum, lookups := w.hint(t, req)
			if lookups != tc.lookups {
				t.Fatalf("%d lookups, want %d (summary %+v)", lookups, tc.lookups, sum)
			}
			sent := w.sent()
			if tc.publish == "" && len(sent) != 0 || tc.publish != "" && (len(sent) != 1 || sent[0].Kind != tc.publish) {
				t.Fatalf("published %v, want %q", sent, tc.publish)
			}
			if tc.lookups == 0 && sum.Dropped[app.DropQuiet] != 1 {
				t.Fatalf("dropped %v, want the quiet hint counted", sum.Dropped)
			}
		})
	}
}

// TestUnknownSIMsAreBounded: a flood of ICCIDs without a record costs at
// most the per-request bound, then the per-minute one; a SIM 1NCE said it
// does not hold is not asked about again for a while; a real new SIM within
// the bounds is created.
func TestUnknownSIMsAreBounded(t *testing.T) {
	t.Parallel()
	w := newTriageWorld(t, 5, 8)
	w.sims.set(enabledSIM(1000)) // a real new SIM among made-up ones
	flood := []string{iccid(1000)}
	for n := range 300 {
		flood = append(flood, iccid(2000+n))
	}
	sum, lookups := w.hint(t, events.SyncRequest{ICCIDs: flood})
	if lookups != 5 || sum.Dropped[app.DropUnknown] != 296 {
		t.Fatalf("%d lookups, dropped %v: want 5 looked up, 296 dropped", lookups, sum.Dropped)
	}
	if sent := w.sent(); len(sent) != 1 || sent[0].ICCID != iccid(1000) || sent[0].Kind != events.KindCreate {
		t.Fatalf("published %v, want the real SIM created", sent)
	}
	// The first request took the burst (5); 30 s later, 8 a minute have
	// refilled 4.
	if _, lookups := w.hint(t, events.SyncRequest{ICCIDs: flood[50:100]}); lookups != 0 {
		t.Fatalf("%d lookups right after the burst, want none", lookups)
	}
	<-w.clock.After(30 * time.Second)
	if _, lookups := w.hint(t, events.SyncRequest{ICCIDs: flood[100:150]}); lookups != 4 {
		t.Fatalf("%d lookups 30 s later, want the 4 the limiter refilled", lookups)
	}
	// SIMs 1NCE does not hold are not asked about again within the TTL.
	sum, lookups = w.hint(t, events.SyncRequest{ICCIDs: flood[1:5]})
	if lookups != 0 || sum.Dropped[app.DropRecentlyGone] != 4 {
		t.Fatalf("%d lookups, dropped %v: want the 4 SIMs 1NCE denied dropped as recently gone", lookups, sum.Dropped)
	}
}

// TestOperatorsSyncsAreNeverTriaged: an operator asks for exactly those
// SIMs, known or not.
func TestOperatorsSyncsAreNeverTriaged(t *testing.T) {
	t.Parallel()
	w := newTriageWorld(t, 0, 0)
	w.seed(t, iccid(1), ip(1), simrec.StateActive)
	w.sims.set(enabledSIM(1))
	req := events.SyncRequest{ID: "op", Source: events.SourceOperator, ICCIDs: []string{iccid(1), iccid(2)}, Quiet: map[string]string{iccid(1): ip(1)}}
	if _, err := w.requests.Run(context.Background(), req, w.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if len(w.sims.asked) != 2 {
		t.Fatalf("asked about %v, want both SIMs", w.sims.asked)
	}
}
