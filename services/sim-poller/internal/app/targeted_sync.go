package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"golang.org/x/sync/errgroup"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simip"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/services/sim-poller/internal/domain"
)

// A targeted sync brings a few SIMs in step without a full sync:
// operators' "sync these SIMs" and the Data Streamer's hints. It applies the
// full sync's rules to each SIM and keeps its single-writer guarantees:
//
//  1. Each SIM is looked up with GET /v1/sims/{iccid} (Lookups); an event's
//     own fields are never used, it only says which SIMs to look up. When a
//     request names more SIMs than listing the whole account costs (pages,
//     as the last full sync counted them), the account is listed instead
//     and only the SIMs it misses are looked up one by one: 100 changes at
//     once then cost 11 requests, not 100, at 1NCE's 10 requests/s.
//  2. Its record is read afterwards, so the change is computed against the
//     newest version; the command carries that version and the record's
//     LastCommand (events.SimCommand.BaseVersion/BaseCommand), so consumers
//     ignore it if the record moved on meanwhile (simrec.Record.Admits);
//     a command this process published that the record does not show yet is
//     built upon (inflight.go).
//  3. A SIM that 1NCE gives an IP brings every other SIM holding that IP
//     into the decision (one level): each record holding it, whatever its
//     state, and each SIM remembered in a conflict at it (Conflicts). All
//     are looked up, so the full sync's IP-conflict rule (simrec.Decide)
//     decides, not whichever SIMs were named; a SIM whose IP's other holders
//     could not all be looked up is not decided (it fails the run). What
//     the lookups show of those IPs is noted in Conflicts.
//  4. The domain reconciler decides, as for a full sync. Every disable is
//     individually proven (the SIM answered Disabled, or 404: gone), so the
//     mass-disable guard, which protects against a listing cut short, does
//     not apply; a SIM whose lookup failed keeps its state and fails the run.
//
// SIMs are decided in waves as their answers arrive (every waveDelay), so
// the first changes of a large request do not wait for its last lookup; two
// SIMs of one request claiming one IP are caught when they fall in one wave,
// else by onboarding-api (an IP with two active records gets no answer) and
// the next full sync.

// Records reads single SIM records.
type Records interface {
	Get(ctx context.Context, iccid string) (simrec.Record, error)
	FindByIP(ctx context.Context, ip string) ([]simrec.Record, error)
	// GetMany reads many records in one go (strongly consistent unless
	// peek); SIMs without a record are absent from the map.
	GetMany(ctx context.Context, iccids []string, peek bool) (map[string]simrec.Record, error)
	Peeker
}

// Listings lists the whole account for targeted syncs of many SIMs:
// every SIM of a listing begun no earlier than notBefore, by ICCID (err:
// the listing did not complete; what it saw is returned).
type Listings interface {
	Snapshot(ctx context.Context, notBefore time.Time) (map[string]domain.RemoteSIM, error)
}

// maxListingPages bounds the accounts a targeted sync lists (their SIMs
// are held in memory for it): 200 pages, 20,000 SIMs.
const maxListingPages = 200

// Lookups says what 1NCE holds for one SIM: an error wrapping ErrSIMNotFound when
// the account does not hold it. The answer comes from a question asked no
// earlier than notBefore, so a hint received at notBefore is answered with
// 1NCE's state after it; several callers may share one question.
type Lookups interface {
	Lookup(ctx context.Context, iccid string, notBefore time.Time) (domain.RemoteSIM, error)
}

// lookupWorkers bounds the SIMs of one run looked up or read at once; the
// 1NCE rate limit, not this, sets the pace.
const lookupWorkers = 16

// waveDelay is how long answers are gathered before they are decided.
const waveDelay = 250 * time.Millisecond

// maxOutcomes bounds the per-SIM lines of a TargetSummary (a Data
// Streamer batch may name 3,000 SIMs; the counts cover the rest).
const maxOutcomes = 100

// ErrLookupFailed means 1NCE could not say, after the client's retries,
// what it holds for some SIMs of a targeted sync; they keep their state.
var ErrLookupFailed = errors.New("1NCE lookup failed")

// SyncSIMs runs a targeted sync of iccids (see above) for a request made
// at notBefore. It returns the summary and an error wrapping
// ErrLookupFailed when some SIMs could not be looked up or read (their
// state is kept; the others' commands are published), or one naming
// failed publishes.
func (s *Syncer) SyncSIMs(ctx context.Context, iccids []string, notBefore time.Time) (TargetSummary, error) {
	return s.syncSIMs(ctx, iccids, notBefore, false)
}

// PlanSIMs is SyncSIMs as a dry run: the same lookups and decisions,
// nothing published; the summary's SIMs say what 1NCE holds and what the
// rules decide for each (operators' status, enable and lookups).
func (s *Syncer) PlanSIMs(ctx context.Context, iccids []string, notBefore time.Time) (TargetSummary, error) {
	return s.syncSIMs(ctx, iccids, notBefore, true)
}

func (s *Syncer) syncSIMs(ctx context.Context, iccids []string, notBefore time.Time, dry bool) (TargetSummary, error) {
	sum := TargetSummary{StartedAt: s.Clock.Now().UTC(), Published: map[string]int{}, DryRun: dry}
	if dry {
		sum.Planned = map[string]int{}
	}
	if s.Records == nil || s.Lookups == nil {
		return sum, errors.New("targeted sync: no record store or 1NCE lookups configured")
	}
	t := &targeted{s: s, notBefore: notBefore, dry: dry, asked: map[string]bool{}, remote: map[string]lookup{},
		local: map[string]simrec.Summary{}, awaiting: map[string]events.SimCommand{}}
	ids := unique(iccids)
	sum.Requested = len(ids)
	ready := make(chan string, len(ids))
	go func() {
		defer close(ready)
		if s.listingIsCheaper(len(ids)) {
			sum.Listed = true
			t.list(ctx, ids, ready)
			return
		}
		t.fetch(ctx, ids, ready)
	}()
	var failed []string
	var errs []error
	for wave := range waves(ready, waveDelay, s.Clock) {
		f, err := t.wave(ctx, wave, &sum)
		failed, errs = append(failed, f...), append(errs, err)
	}
	if len(failed) > 0 {
		slices.Sort(failed)
		sum.Failed, sum.FailedExamples = len(failed), failed[:min(len(failed), 5)]
		errs = append(errs, fmt.Errorf("%w: 1NCE could not say what it holds for %d of %d SIMs (kept as they are); first: %s: %w",
			ErrLookupFailed, len(failed), len(ids), failed[0], t.answer(failed[0]).err))
	}
	err := errors.Join(errs...)
	if !dry {
		s.realtime.add(sum.Published)
	}
	sum.DurationSeconds = s.Clock.Now().Sub(sum.StartedAt).Seconds()
	if err != nil {
		sum.Error = err.Error()
	}
	return sum, err
}

// listingIsCheaper reports whether listing the account costs fewer
// requests than looking n SIMs up one by one (the account's size is the
// last complete listing's).
func (s *Syncer) listingIsCheaper(n int) bool {
	listed := s.lastListed.Load()
	if s.Listings == nil || listed == 0 || s.PageSize < 1 {
		return false
	}
	pages := (listed + int64(s.PageSize) - 1) / int64(s.PageSize)
	return pages <= maxListingPages && int64(n) > pages+1
}

// waves yields the ids arriving on ready in groups: a group closes delay
// after its first id, or when ready closes.
func waves(ready <-chan string, delay time.Duration, clock Clock) func(yield func([]string) bool) {
	return func(yield func([]string) bool) {
		for {
			id, ok := <-ready
			if !ok {
				return
			}
			wave := []string{id}
			closes := clock.After(delay)
		collect:
			for {
				select {
				case id, ok := <-ready:
					if !ok {
						break collect
					}
					wave = append(wave, id)
				case <-closes:
					break collect
				}
			}
			if !yield(wave) {
				return
			}
		}
	}
}

// lookup is one SIM's answer from 1NCE (err also covers a failed read of
// its record).
type lookup struct {
	sim domain.RemoteSIM
	err error
}

// targeted is the state of one targeted run.
type targeted struct {
	s         *Syncer
	notBefore time.Time
	// dry: decide and report, publish nothing (PlanSIMs).
	dry    bool
	mu     sync.Mutex
	asked  map[string]bool
	remote map[string]lookup
	local  map[string]simrec.Summary
	// awaiting are SIMs without a record whose create this process
	// published and the store does not show yet (see inflight.go).
	awaiting map[string]events.SimCommand
	// read holds records read in one go after a listing (nil: read each
	// SIM's on its own); a SIM of inRead without a record has none.
	prefetched map[string]simrec.Record
	inRead     map[string]bool
}

// fetch looks up each SIM of ids and reads its record, sending each id to
// ready once done.
func (t *targeted) fetch(ctx context.Context, ids []string, ready chan<- string) {
	var g errgroup.Group
	g.SetLimit(lookupWorkers)
	for _, id := range ids {
		g.Go(func() error {
			sim, err := t.s.Lookups.Lookup(ctx, id, t.notBefore)
			t.record(ctx, id, sim, err)
			if ready != nil {
				ready <- id
			}
			return nil
		})
	}
	_ = g.Wait()
}

// list takes the SIMs of ids from a listing of the account (Listings);
// those it does not show (gone, or missed by offset paging) are looked up
// one by one, as are all of them when the listing fails.
func (t *targeted) list(ctx context.Context, ids []string, ready chan<- string) {
	sims, _ := t.s.Listings.Snapshot(ctx, t.notBefore)
	t.prefetch(ctx, ids)
	var rest []string
	var wg sync.WaitGroup
	slots := make(chan struct{}, lookupWorkers)
	for _, id := range ids {
		sim, ok := sims[id]
		if !ok {
			rest = append(rest, id)
			continue
		}
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			t.record(ctx, id, sim, nil)
			ready <- id
		})
	}
	t.fetch(ctx, rest, ready)
	wg.Wait()
}

// record reads the record of a SIM looked up and keeps both.
func (t *targeted) record(ctx context.Context, id string, sim domain.RemoteSIM, lookupErr error) {
	l, found, err := t.read(ctx, id)
	if err != nil {
		lookupErr = err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.asked[id] = true
	t.remote[id] = lookup{sim: sim, err: lookupErr}
	if found && err == nil {
		t.local[id] = l
	}
}

// prefetch reads the records of ids in one go (BatchGetItem, strongly
// consistent), after the listing answered: a burst of a hundred hints costs
// one request to the table instead of a hundred. A failure leaves each SIM
// to read its own.
func (t *targeted) prefetch(ctx context.Context, ids []string) {
	recs, err := t.s.Records.GetMany(ctx, ids, false)
	if err != nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.prefetched, t.inRead = recs, map[string]bool{}
	for _, id := range ids {
		t.inRead[id] = true
	}
}

// get is the SIM's record: the prefetched one when it was read in one go.
func (t *targeted) get(ctx context.Context, id string) (simrec.Record, error) {
	t.mu.Lock()
	rec, found := t.prefetched[id]
	done := t.inRead[id]
	t.mu.Unlock()
	switch {
	case !done:
		return t.s.Records.Get(ctx, id)
	case !found:
		return simrec.Record{}, fmt.Errorf("get sim %s: %w", id, simrec.ErrNotFound)
	}
	return rec, nil
}

// read returns the reconciler's view of a SIM's record: as the record is,
// or as a command this process published for it will leave it (see
// inflight.go); a SIM without a record whose create is pending is noted
// in awaiting.
func (t *targeted) read(ctx context.Context, id string) (simrec.Summary, bool, error) {
	rec, err := t.get(ctx, id)
	found := err == nil
	if err != nil && !errors.Is(err, simrec.ErrNotFound) {
		return simrec.Summary{}, false, fmt.Errorf("read record of SIM %s: %w", id, err)
	}
	l := rec.Summary()
	cmd, pending := t.s.inflight.pending(id, rec, found, t.s.Clock.Now())
	switch {
	case pending && found:
		return expected(l, cmd), true, nil
	case pending:
		t.mu.Lock()
		t.awaiting[id] = cmd
		t.mu.Unlock()
	}
	return l, found, nil
}

// answer returns what is known of id.
func (t *targeted) answer(id string) lookup {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.remote[id]
}

// wave decides the SIMs of one wave, with every other SIM holding an IP
// 1NCE now gives one of them, and returns those whose lookup failed.
func (t *targeted) wave(ctx context.Context, wave []string, sum *TargetSummary) ([]string, error) {
	holders, err := t.neighbours(ctx, wave)
	if err != nil { // conflicts cannot be checked: decide nothing now, the request comes back
		t.mu.Lock()
		for _, id := range wave {
			t.remote[id] = lookup{err: err}
		}
		t.mu.Unlock()
		return wave, nil
	}
	var neighbours []string
	for _, ids := range holders {
		for _, id := range ids {
			t.mu.Lock()
			asked := t.asked[id]
			t.mu.Unlock()
			if !asked && !slices.Contains(neighbours, id) {
				neighbours = append(neighbours, id)
			}
		}
	}
	slices.Sort(neighbours)
	t.fetch(ctx, neighbours, nil)
	t.unsure(wave, holders)
	all := append(slices.Clone(wave), neighbours...)
	if err := t.settle(ctx, all); err != nil {
		return nil, err
	}
	failed, conflicts, err := t.decide(ctx, wave, all, sum)
	t.note(ctx, wave, holders, conflicts)
	return failed, err
}

// unsure fails the SIMs of wave whose IP is held by a SIM that could not be
// looked up: whether they conflict is unknown, so they keep their state.
func (t *targeted) unsure(wave []string, holders map[string][]string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range wave {
		r := t.remote[id]
		ip := enabledIP(r)
		if ip == "" {
			continue
		}
		for _, other := range holders[ip] {
			if o, ok := t.remote[other]; ok && o.err != nil && !errors.Is(o.err, ErrSIMNotFound) {
				t.remote[id] = lookup{sim: r.sim, err: fmt.Errorf("SIM %s, which holds its IP %s, could not be looked up: %w", other, ip, o.err)}
				break
			}
		}
	}
}

// note tells Conflicts what this wave saw of the IPs its SIMs hold: those
// whose holders were all looked up are noted with the conflicts found.
func (t *targeted) note(ctx context.Context, wave []string, holders map[string][]string, conflicts map[string][]string) {
	if t.s.Conflicts == nil {
		return
	}
	var checked []string
	t.mu.Lock()
	for _, id := range wave {
		if r := t.remote[id]; r.err == nil {
			if ip := enabledIP(r); ip != "" && !slices.Contains(checked, ip) {
				checked = append(checked, ip)
			}
		}
	}
	t.mu.Unlock()
	if len(checked) == 0 {
		return
	}
	if err := t.s.Conflicts.Note(ctx, checked, conflicts); err != nil {
		t.s.Logger.Warn("IP conflicts not noted; the next full sync notes them", "error", err)
	}
}

// enabledIP is the normalised IP 1NCE gives a SIM it lists as Enabled ("" otherwise).
func enabledIP(r lookup) string {
	if r.err != nil || r.sim.Status != domain.StatusEnabled {
		return ""
	}
	addr, err := simip.Parse(r.sim.IP)
	if err != nil {
		return ""
	}
	return addr.String()
}

// settle waits for the records of awaiting SIMs whose create no longer
// matches what 1NCE says (SettleTimeout at most); a SIM whose record does
// not appear in time counts as failed, so the request comes back.
func (t *targeted) settle(ctx context.Context, ids []string) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, id := range ids {
		t.mu.Lock()
		cmd, waiting := t.awaiting[id]
		r := t.remote[id]
		t.mu.Unlock()
		if !waiting || (r.err == nil && r.sim.Status == domain.StatusEnabled && sameIP(r.sim.IP, cmd.IP)) {
			continue // no create pending, or the pending one is what 1NCE says
		}
		g.Go(func() error {
			l, err := t.awaitRecord(gctx, id)
			t.mu.Lock()
			defer t.mu.Unlock()
			delete(t.awaiting, id)
			if err != nil {
				t.remote[id] = lookup{err: fmt.Errorf("the create published for SIM %s at a previous change has not written its record: %w", id, err)}
				return nil
			}
			t.local[id] = l
			return nil
		})
	}
	return g.Wait()
}

// awaitRecord polls the record of id until it exists.
func (t *targeted) awaitRecord(ctx context.Context, id string) (simrec.Summary, error) {
	return retry(ctx, t.s.Clock, settleBackoff(), t.s.SettleTimeout, func() (simrec.Summary, error) {
		rec, err := t.s.Records.Get(ctx, id)
		if errors.Is(err, simrec.ErrNotFound) {
			return simrec.Summary{}, err
		}
		if err != nil {
			return simrec.Summary{}, backoff.Permanent(err)
		}
		return rec.Summary(), nil
	})
}

func sameIP(a, b string) bool {
	x, err := simip.Parse(a)
	y, err2 := simip.Parse(b)
	return err == nil && err2 == nil && x == y
}

// neighbours returns, for each IP 1NCE now gives one of ids as Enabled,
// the other SIMs holding it: every record with the IP, whatever its state,
// and every SIM remembered in a conflict at it (Conflicts).
func (t *targeted) neighbours(ctx context.Context, ids []string) (map[string][]string, error) {
	var ips []string
	for _, id := range ids {
		if ip := enabledIP(t.answer(id)); ip != "" {
			ips = append(ips, ip)
		}
	}
	ips = unique(ips)
	holders := map[string][]string{}
	if len(ips) == 0 {
		return holders, nil
	}
	if t.s.Conflicts != nil {
		known, err := t.s.Conflicts.Claimants(ctx, ips)
		if err != nil {
			return nil, fmt.Errorf("remembered IP conflicts: %w", err)
		}
		for ip, claimants := range known {
			holders[ip] = append(holders[ip], claimants...)
		}
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(lookupWorkers)
	for _, ip := range ips {
		g.Go(func() error {
			recs, err := t.s.Records.FindByIP(gctx, ip)
			if err != nil {
				return fmt.Errorf("find records of IP %s: %w", ip, err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, rec := range recs {
				holders[ip] = append(holders[ip], rec.ICCID)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for ip, ids := range holders {
		holders[ip] = unique(ids)
	}
	return holders, nil
}

// decide runs the reconciler over the SIMs of all (a wave and its
// neighbours), publishes (unless a dry run), and returns the SIMs of the
// wave whose lookup failed and the IP conflicts it saw.
func (t *targeted) decide(ctx context.Context, wave, all []string, sum *TargetSummary) ([]string, map[string][]string, error) {
	t.mu.Lock()
	var locals []simrec.Summary
	remote := map[string]lookup{}
	local := map[string]simrec.Summary{}
	for _, id := range all {
		if l, ok := t.local[id]; ok {
			locals = append(locals, l)
			local[id] = l
		}
		remote[id] = t.remote[id]
	}
	t.mu.Unlock()
	rec := domain.NewReconciler(locals)
	rec.KeepSkipped = len(all)
	var failed []string
	for _, id := range sortedKeys(remote) {
		r := remote[id]
		switch {
		case errors.Is(r.err, ErrSIMNotFound):
			rec.Confirm(id, domain.VerdictGone)
		case r.err != nil:
			if slices.Contains(wave, id) {
				failed = append(failed, id)
			}
		default:
			sim := r.sim
			sim.ICCID = id // the answer may leave it out; it is the SIM asked about
			rec.Observe(sim)
		}
	}
	changes, report := rec.Finish(domain.Policy{ListingComplete: true, Force: true})
	sum.add(report, len(all)-len(wave))
	sum.outcomes(wave, remote, local, changes, rec.Skipped())
	if t.dry {
		for _, c := range changes {
			sum.Planned[string(c.Kind)]++
		}
		return failed, rec.Conflicts(), nil
	}
	var tmp Summary
	tmp.Published = sum.Published
	return failed, rec.Conflicts(), t.s.publishAll(ctx, changes, &tmp)
}

func unique(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
