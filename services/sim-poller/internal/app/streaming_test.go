package app_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/services/sim-poller/internal/domain"
)

// TestFullSyncPublishesWhileItLists: the creates of the first page are
// published before the second page is read, and the summary says when the
// first command left.
func TestFullSyncPublishesWhileItLists(t *testing.T) {
	t.Parallel()
	w := newTargetWorld(t)
	w.inv.sims = listed(0, 250)
	firstPageOut := make(chan struct{})
	var n atomic.Int32
	w.pub.onPublish = func(events.SimCommand) {
		if n.Add(1) == 100 {
			close(firstPageOut)
		}
	}
	w.inv.onPage = func(page int) {
		if page != 1 {
			return
		}
		// The listing waits here, before page 2: page 1's creates must
		// still all go out.
		select {
		case <-firstPageOut:
		case <-time.After(10 * time.Second):
			t.Errorf("only %d of page 1's creates published while the listing waited", n.Load())
		}
	}
	sum, err := w.syncer.Sync(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Published[string(events.KindCreate)] != 250 || sum.Pages != 3 {
		t.Fatalf("summary %+v", sum)
	}
}

// TestFullSyncRebasesOnTheRecordAsItIsNow: the store summary a full sync
// compares with is read before the listing; a SIM whose record moved on
// since then gets its change computed against the newer record (or none).
func TestFullSyncRebasesOnTheRecordAsItIsNow(t *testing.T) {
	t.Parallel()
	w := newTargetWorld(t)
	for n := range 3 {
		w.seed(t, iccid(n), ip(n), simrec.StateActive)
	}
	sims := listed(0, 3)
	sims[0].IP, sims[1].IP = "10.9.9.1", "10.9.9.2"
	w.inv.sims = sims
	// After the scan, before publishing: SIM 0 is disabled by a command of
	// someone else, SIM 1 already moved to its new IP.
	w.inv.beforeList = func() {
		ctx := context.Background()
		r0, _ := w.store.Get(ctx, iccid(0))
		r0.SetState(simrec.StateDisabled)
		r0.LastCommand = "operator-disable"
		if _, err := w.store.Update(ctx, r0); err != nil {
			t.Error(err)
		}
		r1, _ := w.store.Get(ctx, iccid(1))
		r1.IP, r1.LastCommand = "10.9.9.2", "other-update"
		if _, err := w.store.Update(ctx, r1); err != nil {
			t.Error(err)
		}
	}
	sum, err := w.syncer.Sync(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	sent := w.sent()
	if len(sent) != 1 || sent[0].ICCID != iccid(0) || sent[0].Kind != events.KindCreate || sent[0].BaseVersion != 2 ||
		sent[0].BaseCommand != "operator-disable" || sent[0].Reason != domain.ReasonReEnabled {
		t.Fatalf("sent %+v: want SIM 0 re-enabled at its new IP on version 2, nothing for SIM 1", sent)
	}
	if sum.Rebased != 1 {
		t.Fatalf("rebased = %d, want 1 (SIM 1's update was no longer needed)", sum.Rebased)
	}
}

// TestALateIPConflictTakesAccessAway: a new SIM created from page 1 turns
// out, on page 2, to share its IP with another new SIM: neither may keep
// credentials, so once the released create has written its record, it is
// disabled; the other is never created.
func TestALateIPConflictTakesAccessAway(t *testing.T) {
	t.Parallel()
	w := newTargetWorld(t)
	sims := listed(0, 150)
	sims[140].IP = sims[10].IP
	w.inv.sims = sims
	// The provisioner: each published create lands at once.
	w.pub.onPublish = func(cmd events.SimCommand) {
		if cmd.Kind == events.KindCreate {
			w.apply(t, cmd)
		}
	}
	sum, err := w.syncer.Sync(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range w.sent() {
		if c.ICCID == iccid(140) {
			t.Fatalf("SIM 140 got %s: it shares its IP with SIM 10", c.Kind)
		}
	}
	var disable *events.SimCommand
	for _, c := range w.sent() {
		if c.ICCID == iccid(10) && c.Kind == events.KindDisable {
			disable = &c
		}
	}
	if disable == nil || !w.apply(t, *disable) || w.active(t, iccid(10)) {
		t.Fatalf("SIM 10 keeps its credentials: disable %+v", disable)
	}
	if sum.Problems[domain.ProblemIPConflict] != 2 {
		t.Fatalf("problems %v", sum.Problems)
	}
}
