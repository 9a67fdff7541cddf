package app_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
	"github.com/simbridge/simbridge/services/sim-poller/internal/domain"
)

// fakeLookups answers from a 1NCE account held in a map (absent: 404), or
// with the error of fail; before, when set, runs first (to hold an answer
// back).
type fakeLookups struct {
	mu     sync.Mutex
	sims   map[string]domain.RemoteSIM
	fail   map[string]error
	asked  []string
	before func(iccid string)
}

func (f *fakeLookups) Lookup(_ context.Context, iccid string, _ time.Time) (domain.RemoteSIM, error) {
	if f.before != nil {
		f.before(iccid)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, iccid)
	if err := f.fail[iccid]; err != nil {
		return domain.RemoteSIM{}, err
	}
	s, ok := f.sims[iccid]
	if !ok {
		return domain.RemoteSIM{}, fmt.Errorf("get SIM %s: %w", iccid, app.ErrSIMNotFound)
	}
	return s, nil
}

func (f *fakeLookups) set(s domain.RemoteSIM) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sims[s.ICCID] = s
}

// fakeListings lists the fake inventory.
type fakeListings struct{ inv *fakeInventory }

func (f fakeListings) Snapshot(ctx context.Context, _ time.Time) (map[string]domain.RemoteSIM, error) {
	out := map[string]domain.RemoteSIM{}
	_, err := f.inv.ListSIMs(ctx, func(page []domain.RemoteSIM) error {
		for _, s := range page {
			out[s.ICCID] = s
		}
		return nil
	})
	return out, err
}

// records is the in-memory store with faults: beforeGet runs before each
// read (n: how many reads of that SIM came before), getErr and findErr fail
// reads.
type records struct {
	*simstore.Memory
	mu        sync.Mutex
	gets      map[string]int
	beforeGet func(iccid string, n int)
	getErr    map[string]error
	findErr   error
}

func (r *records) Get(ctx context.Context, iccid string) (simrec.Record, error) {
	r.mu.Lock()
	n := r.gets[iccid]
	r.gets[iccid]++
	hook, err := r.beforeGet, r.getErr[iccid]
	r.mu.Unlock()
	if hook != nil {
		hook(iccid, n)
	}
	if err != nil {
		return simrec.Record{}, err
	}
	return r.Memory.Get(ctx, iccid)
}

// reads is how often iccid was read.
func (r *records) reads(iccid string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gets[iccid]
}

func (r *records) FindByIP(ctx context.Context, ip string) ([]simrec.Record, error) {
	if r.findErr != nil {
		return nil, r.findErr
	}
	return r.Memory.FindByIP(ctx, ip)
}

// targetWorld is a syncer over an in-memory store, answering targeted syncs.
type targetWorld struct {
	store   *simstore.Memory
	records *records
	sims    *fakeLookups
	inv     *fakeInventory
	pub     *fakePublisher
	clock   *fakeClock
	syncer  *app.Syncer
}

func newTargetWorld(t *testing.T) *targetWorld {
	t.Helper()
	store := simstore.NewMemory()
	w := &targetWorld{store: store, records: &records{Memory: store, gets: map[string]int{}}, sims: &fakeLookups{sims: map[string]domain.RemoteSIM{}},
		inv: &fakeInventory{}, pub: &fakePublisher{}, clock: newFakeClock()}
	var err error
	w.syncer, err = app.NewSyncer(app.Deps{Store: w.store, Records: w.records, Lookups: w.sims, Inventory: w.inv, Publisher: w.pub,
		Notifier: &fakeNotifier{}, Lease: &fakeLease{}, Logger: slog.New(slog.DiscardHandler)}, app.Guard{MaxDisableShare: 1, DisableAllowance: 5}, 4)
	if err != nil {
		t.Fatal(err)
	}
	w.syncer.Clock = w.clock
	w.syncer.SettleTimeout = 2 * time.Second
	w.syncer.Listings = fakeListings{w.inv}
	return w
}

// seed stores a record in state st at version 1.
func (w *targetWorld) seed(t *testing.T, iccid, ip string, st simrec.State) {
	t.Helper()
	r := simrec.Record{ICCID: iccid, IP: ip, Status: domain.StatusEnabled, LastCommand: "seed"}
	r.SetState(st)
	if _, err := w.store.Create(context.Background(), r); err != nil {
		t.Fatal(err)
	}
}

// sync runs a targeted sync of iccids and returns the commands it published.
func (w *targetWorld) sync(t *testing.T, iccids ...string) ([]events.SimCommand, error) {
	t.Helper()
	before := len(w.sent())
	_, err := w.syncer.SyncSIMs(context.Background(), iccids, w.clock.Now())
	return w.sent()[before:], err
}

func (w *targetWorld) sent() []events.SimCommand {
	w.pub.mu.Lock()
	defer w.pub.mu.Unlock()
	return append([]events.SimCommand(nil), w.pub.sent...)
}

// apply plays a consumer: the command changes the record only if the record
// admits it (simrec.Record.Admits), as provisioner and deactivator do.
func (w *targetWorld) apply(t *testing.T, cmd events.SimCommand) (admitted bool) {
	t.Helper()
	ctx := context.Background()
	rec, err := w.store.Get(ctx, cmd.ICCID)
	if errors.Is(err, simrec.ErrNotFound) {
		if cmd.Kind != events.KindCreate {
			return false
		}
		r := simrec.Record{ICCID: cmd.ICCID, IP: cmd.IP, Status: cmd.Status, LastCommand: cmd.CommandID()}
		r.SetState(simrec.StateActive)
		if _, err := w.store.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
		return true
	}
	if !rec.Admits(cmd.CommandID(), cmd.BaseVersion, cmd.BaseCommand) {
		return false
	}
	rec.LastCommand = cmd.CommandID()
	switch cmd.Kind {
	case events.KindCreate, events.KindUpdate:
		rec.IP, rec.Status = cmd.IP, cmd.Status
		rec.SetState(simrec.StateActive)
	case events.KindDisable:
		rec.SetState(simrec.StateDisabled)
		if cmd.Status != "" {
			rec.Status = cmd.Status
		}
	}
	if _, err := w.store.Update(ctx, rec); err != nil {
		t.Fatal(err)
	}
	return true
}

func (w *targetWorld) active(t *testing.T, iccid string) bool {
	t.Helper()
	rec, err := w.store.Get(context.Background(), iccid)
	return err == nil && rec.Active
}

func enabledSIM(n int) domain.RemoteSIM {
	return domain.RemoteSIM{ICCID: iccid(n), IP: ip(n), Status: domain.StatusEnabled}
}

// TestQuickChangesEndInTheNewestState: 1NCE disables a SIM and enables it
// again before the first command reached a consumer. The second change is
// computed against the state the first will leave and names it, so the
// record ends as 1NCE has it last whichever command lands first.
func TestQuickChangesEndInTheNewestState(t *testing.T) {
	t.Parallel()
	for _, order := range []string{"in order", "reversed"} {
		t.Run(order, func(t *testing.T) {
			t.Parallel()
			w := newTargetWorld(t)
			sim := enabledSIM(1)
			w.seed(t, sim.ICCID, sim.IP, simrec.StateActive)
			off := sim
			off.Status = domain.StatusDisabled
			w.sims.set(off)
			first, err := w.sync(t, sim.ICCID)
			if err != nil || len(first) != 1 || first[0].Kind != events.KindDisable {
				t.Fatalf("first change: %v %v", first, err)
			}
			w.sims.set(sim)
			second, err := w.sync(t, sim.ICCID)
			if err != nil || len(second) != 1 || second[0].Kind != events.KindCreate || second[0].BaseCommand != first[0].CommandID() {
				t.Fatalf("second change %+v (%v): want a create naming the pending disable", second, err)
			}
			cmds := []events.SimCommand{first[0], second[0]}
			if order == "reversed" {
				cmds[0], cmds[1] = cmds[1], cmds[0]
			}
			for _, c := range cmds {
				w.apply(t, c)
			}
			if !w.active(t, sim.ICCID) {
				t.Fatal("the SIM 1NCE enabled last ended without access")
			}
		})
	}
}

// TestNewSIMDisabledBeforeItsCreateLanded: the create of a new SIM is
// still queued when 1NCE disables it. The targeted sync waits for the
// create's record and disables it; if the record never comes, the SIM
// counts as failed and the request comes back.
func TestNewSIMDisabledBeforeItsCreateLanded(t *testing.T) {
	t.Parallel()
	w := newTargetWorld(t)
	sim := enabledSIM(2)
	w.sims.set(sim)
	created, err := w.sync(t, sim.ICCID)
	if err != nil || len(created) != 1 || created[0].Kind != events.KindCreate {
		t.Fatalf("create: %v %v", created, err)
	}
	// Another hint while the create is queued, 1NCE unchanged: no wait
	// beyond the wave's, nothing new.
	before := w.clock.total()
	again, err := w.sync(t, sim.ICCID)
	if waited := w.clock.total() - before; err != nil || waited > time.Second || (len(again) == 1 && again[0].DeduplicationID() != created[0].DeduplicationID()) || len(again) > 1 {
		t.Fatalf("repeated hint: %v %v after waiting %v; want at most the same create, at once", again, err, waited)
	}
	off := sim
	off.Status = domain.StatusDisabled
	w.sims.set(off)
	// The create lands while the sync polls for its record: after the read
	// that finds none and the first poll.
	reads := w.records.reads(sim.ICCID)
	w.records.beforeGet = func(id string, n int) {
		if id == sim.ICCID && n == reads+2 {
			w.apply(t, created[0])
		}
	}
	before = w.clock.total()
	disabled, err := w.sync(t, sim.ICCID)
	if err != nil || len(disabled) != 1 || disabled[0].Kind != events.KindDisable || disabled[0].BaseVersion != 1 {
		t.Fatalf("disable: %+v %v; want one computed against the create's record", disabled, err)
	}
	if w.clock.total()-before <= 300*time.Millisecond { // a wave (250 ms) and at least one poll
		t.Fatalf("waited %v: want the sync to have waited for the record", w.clock.total()-before)
	}
	if !w.apply(t, disabled[0]) || w.active(t, sim.ICCID) {
		t.Fatal("the disable was not admitted")
	}

	other := enabledSIM(3)
	w.sims.set(other)
	if _, err := w.sync(t, other.ICCID); err != nil {
		t.Fatal(err)
	}
	w.sims.set(domain.RemoteSIM{ICCID: other.ICCID, Status: domain.StatusDisabled})
	w.syncer.SettleTimeout = 300 * time.Millisecond
	if _, err := w.sync(t, other.ICCID); !errors.Is(err, app.ErrLookupFailed) {
		t.Fatalf("err = %v, want the SIM to count as failed while its create has not landed", err)
	}
}

// TestFullSyncLeavesHintedSIMsToTheHint: a targeted sync that published a
// command for a SIM while a full sync was listing wins; the full sync,
// whose listing is older, publishes nothing for that SIM, even though it
// publishes page by page.
func TestFullSyncLeavesHintedSIMsToTheHint(t *testing.T) {
	t.Parallel()
	w := newTargetWorld(t)
	const moved = 120 // on the second page of 100
	for n := range 150 {
		w.seed(t, iccid(n), ip(n), simrec.StateActive)
	}
	// The listing shows the SIM at a new IP; after the first page, 1NCE
	// disables it and the hint is handled.
	listedSIMs := listed(0, 150)
	listedSIMs[moved].IP = "10.9.9.9"
	w.inv.sims = listedSIMs
	w.inv.onPage = func(page int) {
		if page != 1 {
			return
		}
		w.sims.set(domain.RemoteSIM{ICCID: iccid(moved), IP: "10.9.9.9", Status: domain.StatusDisabled})
		if _, err := w.syncer.SyncSIMs(context.Background(), []string{iccid(moved)}, w.clock.Now()); err != nil {
			t.Error(err)
		}
	}
	sum, err := w.syncer.Sync(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	sent := w.sent()
	if len(sent) != 1 || sent[0].Kind != events.KindDisable || sum.Superseded != 1 {
		t.Fatalf("sent %v, superseded %d: want only the hint's disable", sent, sum.Superseded)
	}
}

// TestAHintAfterAReleasedChangeBuildsOnIt: when the full sync already
// published a SIM's change and a hint then finds the SIM disabled, the
// hint's disable names the full sync's command as its base, so it is
// admitted whichever of the two lands first.
func TestAHintAfterAReleasedChangeBuildsOnIt(t *testing.T) {
	t.Parallel()
	w := newTargetWorld(t)
	for n := range 3 {
		w.seed(t, iccid(n), ip(n), simrec.StateActive)
	}
	listedSIMs := listed(0, 3)
	listedSIMs[0].IP = "10.9.9.9"
	w.inv.sims = listedSIMs
	w.inv.onPage = func(int) {
		w.sims.set(domain.RemoteSIM{ICCID: iccid(0), IP: "10.9.9.9", Status: domain.StatusDisabled})
		if _, err := w.syncer.SyncSIMs(context.Background(), []string{iccid(0)}, w.clock.Now()); err != nil {
			t.Error(err)
		}
	}
	if _, err := w.syncer.Sync(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	sent := w.sent()
	if len(sent) != 2 || sent[0].Kind != events.KindUpdate || sent[1].Kind != events.KindDisable || sent[1].BaseCommand != sent[0].CommandID() {
		t.Fatalf("sent %v: want the full sync's update, then the hint's disable built on it", sent)
	}
}

// TestManySIMsAreTakenFromAListing: a request naming more SIMs than the
// account has pages lists the account and looks up only the SIMs the
// listing does not show.
func TestManySIMsAreTakenFromAListing(t *testing.T) {
	t.Parallel()
	w := newTargetWorld(t)
	w.syncer.PageSize = 100
	w.inv.sims = listed(0, 50)
	if _, err := w.syncer.Sync(context.Background(), false); err != nil { // learns the account's size: 1 page
		t.Fatal(err)
	}
	before := len(w.sent())
	sum, err := w.syncer.SyncSIMs(context.Background(), []string{iccid(1), iccid(2), iccid(3), iccid(99)}, w.clock.Now())
	if err != nil || !sum.Listed || w.inv.calls != 2 {
		t.Fatalf("summary %+v (%v), listings %d: want a listing", sum, err, w.inv.calls)
	}
	if fmt.Sprint(w.sims.asked) != fmt.Sprint([]string{iccid(99)}) || sum.NotFound != 1 {
		t.Fatalf("looked up %v, want only the SIM the listing lacks", w.sims.asked)
	}
	if got := len(w.sent()) - before; got != 3 {
		t.Fatalf("%d commands, want the 3 listed SIMs created", got)
	}
}

// TestAnsweredSIMsDoNotWaitForSlowOnes: SIMs are decided in waves as their
// answers come, so one slow lookup does not hold the others' commands.
func TestAnsweredSIMsDoNotWaitForSlowOnes(t *testing.T) {
	t.Parallel()
	w := newTargetWorld(t)
	fast, slow := enabledSIM(1), enabledSIM(2)
	w.sims.set(fast)
	w.sims.set(slow)
	published := make(chan struct{})
	var once sync.Once
	w.pub.onSend = func() { once.Do(func() { close(published) }) }
	w.sims.before = func(id string) {
		if id != slow.ICCID {
			return
		}
		select { // the slow answer comes only once the fast SIM's create is out
		case <-published:
		case <-time.After(5 * time.Second): // fail instead of hanging
			t.Error("the fast SIM's create waited for the slow SIM's answer")
		}
	}
	sent, err := w.sync(t, fast.ICCID, slow.ICCID)
	if err != nil || len(sent) != 2 || sent[0].ICCID != fast.ICCID {
		t.Fatalf("sent %v (%v): want the fast SIM's create before the slow SIM was answered", sent, err)
	}
}

// TestTargetedSyncOutcomes: each branch of a targeted sync, as the
// requester reads it in the summary, and the commands it publishes.
func TestTargetedSyncOutcomes(t *testing.T) {
	t.Parallel()
	sim, other := enabledSIM(1), enabledSIM(2)
	down := errors.New("status 503 after retries")
	tests := []struct {
		name string
		// records are seeded at version 1 (state by ICCID), sims are what 1NCE holds.
		records map[string]simrec.State
		sims    []domain.RemoteSIM
		setup   func(w *targetWorld)
		ask     []string
		// want is the outcome of each SIM asked about; sent the commands published.
		want    map[string]string
		sent    []string // "kind iccid"
		wantErr error
		check   func(t *testing.T, sum app.TargetSummary)
	}{
		{name: "new enabled SIM is created", sims: []domain.RemoteSIM{sim}, ask: []string{sim.ICCID},
			want: map[string]string{sim.ICCID: "create"}, sent: []string{"create " + sim.ICCID}},
		{name: "SIM disabled in 1NCE loses its access", records: map[string]simrec.State{sim.ICCID: simrec.StateActive},
			sims: []domain.RemoteSIM{{ICCID: sim.ICCID, IP: sim.IP, Status: domain.StatusDisabled}}, ask: []string{sim.ICCID},
			want: map[string]string{sim.ICCID: "disable"}, sent: []string{"disable " + sim.ICCID}},
		{name: "SIM given another IP is updated", records: map[string]simrec.State{sim.ICCID: simrec.StateActive},
			sims: []domain.RemoteSIM{{ICCID: sim.ICCID, IP: "10.9.9.9", Status: domain.StatusEnabled}}, ask: []string{sim.ICCID},
			want: map[string]string{sim.ICCID: "update"}, sent: []string{"update " + sim.ICCID}},
		{name: "unchanged SIM publishes nothing", records: map[string]simrec.State{sim.ICCID: simrec.StateActive},
			sims: []domain.RemoteSIM{sim}, ask: []string{sim.ICCID}, want: map[string]string{sim.ICCID: app.OutcomeUnchanged}},
		{name: "SIM gone from the account with access is disabled on that proof", records: map[string]simrec.State{sim.ICCID: simrec.StateActive},
			ask: []string{sim.ICCID}, want: map[string]string{sim.ICCID: "disable"}, sent: []string{"disable " + sim.ICCID}},
		{name: "SIM gone from the account without access stays as it is", records: map[string]simrec.State{sim.ICCID: simrec.StateDisabled},
			ask: []string{sim.ICCID}, want: map[string]string{sim.ICCID: app.OutcomeUnchanged}},
		{name: "SIM neither 1NCE nor the store knows", ask: []string{sim.ICCID}, want: map[string]string{sim.ICCID: app.OutcomeNotFound},
			check: func(t *testing.T, sum app.TargetSummary) {
				if sum.NotFound != 1 {
					t.Errorf("not found = %d", sum.NotFound)
				}
			}},
		{name: "SIM without IP is skipped", sims: []domain.RemoteSIM{{ICCID: sim.ICCID, Status: domain.StatusEnabled}}, ask: []string{sim.ICCID},
			want: map[string]string{sim.ICCID: app.OutcomeSkipped}, check: func(t *testing.T, sum app.TargetSummary) {
				if sum.Problems[domain.ProblemNoIP] != 1 {
					t.Errorf("problems %v", sum.Problems)
				}
			}},
		{name: "revoked SIM still enabled in 1NCE stays without access", records: map[string]simrec.State{sim.ICCID: simrec.StateRevoked},
			sims: []domain.RemoteSIM{sim}, ask: []string{sim.ICCID}, want: map[string]string{sim.ICCID: app.OutcomeUnchanged},
			check: func(t *testing.T, sum app.TargetSummary) {
				if sum.Revoked != 1 {
					t.Errorf("revoked = %d", sum.Revoked)
				}
			}},
		{name: "a failed lookup keeps the SIM and the request comes back", records: map[string]simrec.State{sim.ICCID: simrec.StateActive},
			sims: []domain.RemoteSIM{other}, setup: func(w *targetWorld) { w.sims.fail = map[string]error{sim.ICCID: down} },
			ask: []string{sim.ICCID, other.ICCID}, want: map[string]string{sim.ICCID: app.OutcomeFailed, other.ICCID: "create"},
			sent: []string{"create " + other.ICCID}, wantErr: app.ErrLookupFailed,
			check: func(t *testing.T, sum app.TargetSummary) {
				if sum.Failed != 1 || fmt.Sprint(sum.FailedExamples) != "["+sim.ICCID+"]" {
					t.Errorf("failed %d %v", sum.Failed, sum.FailedExamples)
				}
			}},
		{name: "a record that cannot be read is a failed lookup", sims: []domain.RemoteSIM{sim},
			setup: func(w *targetWorld) { w.records.getErr = map[string]error{sim.ICCID: down} },
			ask:   []string{sim.ICCID}, want: map[string]string{sim.ICCID: app.OutcomeFailed}, wantErr: app.ErrLookupFailed},
		{name: "a SIM given an active SIM's IP: both are decided by the conflict rule", records: map[string]simrec.State{other.ICCID: simrec.StateActive},
			sims: []domain.RemoteSIM{{ICCID: sim.ICCID, IP: other.IP, Status: domain.StatusEnabled}, other}, ask: []string{sim.ICCID},
			want: map[string]string{sim.ICCID: app.OutcomeSkipped}, sent: []string{"disable " + other.ICCID},
			check: func(t *testing.T, sum app.TargetSummary) {
				if sum.Neighbours != 1 || sum.Problems[domain.ProblemIPConflict] != 2 {
					t.Errorf("neighbours %d, problems %v", sum.Neighbours, sum.Problems)
				}
			}},
		{name: "conflicts that cannot be checked decide nothing", sims: []domain.RemoteSIM{sim},
			setup: func(w *targetWorld) { w.records.findErr = down },
			ask:   []string{sim.ICCID}, want: map[string]string{}, wantErr: app.ErrLookupFailed,
			check: func(t *testing.T, sum app.TargetSummary) {
				if sum.Failed != 1 || !strings.Contains(sum.Error, "find records of IP") {
					t.Errorf("failed %d, error %q", sum.Failed, sum.Error)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newTargetWorld(t)
			for id, st := range tc.records {
				ip := sim.IP
				if id == other.ICCID {
					ip = other.IP
				}
				w.seed(t, id, ip, st)
			}
			for _, s := range tc.sims {
				w.sims.set(s)
			}
			if tc.setup != nil {
				tc.setup(w)
			}
			sum, err := w.syncer.SyncSIMs(context.Background(), tc.ask, w.clock.Now())
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			got := map[string]string{}
			for _, o := range sum.SIMs {
				got[o.ICCID] = o.Outcome
			}
			var sent []string
			for _, c := range w.sent() {
				sent = append(sent, fmt.Sprintf("%s %s", c.Kind, c.ICCID))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) || fmt.Sprint(sorted(sent)) != fmt.Sprint(tc.sent) {
				t.Fatalf("outcomes %v, sent %v; want %v, %v", got, sent, tc.want, tc.sent)
			}
			if tc.check != nil {
				tc.check(t, sum)
			}
		})
	}
}

func TestTargetedSyncNeedsItsStoreAndLookups(t *testing.T) {
	t.Parallel()
	s, err := app.NewSyncer(app.Deps{Store: &fakeStore{}, Inventory: &fakeInventory{}, Publisher: &fakePublisher{}, Notifier: &fakeNotifier{},
		Lease: &fakeLease{}, Logger: slog.New(slog.DiscardHandler)}, app.Guard{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SyncSIMs(context.Background(), []string{iccid(1)}, time.Time{}); err == nil {
		t.Fatal("a syncer without records or lookups ran a targeted sync")
	}
}
