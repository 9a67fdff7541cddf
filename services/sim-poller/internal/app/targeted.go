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
	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/simip"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/services/sim-poller/internal/domain"
)

// A targeted sync brings a few SIMs in step without listing the account:
// operators' "sync these SIMs" and the Data Streamer's hints. It applies the
// full sync's rules to each SIM and keeps its single-writer guarantees:
//
//  1. Each SIM is looked up with GET /v1/sims/{iccid} (Lookups); an event's
//     own fields are never used, it only says which SIMs to look up.
//  2. Its record is read afterwards, so the change is computed against the
//     newest version; the command carries that version and the record's
//     LastCommand (domain.Change.BaseVersion/BaseCommand), so consumers
//     ignore it if the record moved on meanwhile (simstore.Record.Admits).
//  3. A SIM that 1NCE gives an IP another active record holds brings that
//     other SIM into the run (one level): both are looked up, so the full
//     sync's IP-conflict rule decides, not whichever command lands first.
//  4. The domain reconciler decides, as for a full sync. Every disable is
//     individually proven (the SIM answered Disabled, or 404: gone), so the
//     mass-disable guard, which protects against a listing cut short, does
//     not apply; a SIM whose lookup failed keeps its state and fails the run.

// Records reads single SIM records.
type Records interface {
	Get(ctx context.Context, iccid string) (simstore.Record, error)
	FindByIP(ctx context.Context, ip string) ([]simstore.Record, error)
}

// Lookups says what 1NCE holds for one SIM: onceapi.ErrSIMNotFound when
// the account does not hold it. The answer comes from a question asked no
// earlier than notBefore, so a hint received at notBefore is answered with
// 1NCE's state after it; several callers may share one question.
type Lookups interface {
	Lookup(ctx context.Context, iccid string, notBefore time.Time) (onceapi.SIM, error)
}

// lookupWorkers bounds the SIMs of one run looked up or read at once; the
// 1NCE rate limit, not this, sets the pace.
const lookupWorkers = 16

// maxOutcomes bounds the per-SIM lines of a TargetSummary (a Data
// Streamer batch may name 3,000 SIMs; the counts cover the rest).
const maxOutcomes = 100

// ErrLookupFailed means 1NCE could not say, after the client's retries,
// what it holds for some SIMs of a targeted sync; they keep their state.
var ErrLookupFailed = errors.New("1NCE lookup failed")

// SyncSIMs runs a targeted sync of iccids (see above) for a request made
// at notBefore. It returns the summary and an error wrapping
// ErrLookupFailed when some SIMs could not be looked up (their state is
// kept; the others' commands are published), or one naming failed reads or
// publishes.
func (s *Syncer) SyncSIMs(ctx context.Context, iccids []string, notBefore time.Time) (TargetSummary, error) {
	sum := TargetSummary{StartedAt: s.now().UTC(), Published: map[string]int{}}
	if s.Records == nil || s.Lookups == nil {
		return sum, errors.New("targeted sync: no record store or 1NCE lookups configured")
	}
	t := &targeted{s: s, notBefore: notBefore, asked: map[string]bool{}, remote: map[string]lookup{},
		local: map[string]domain.LocalSIM{}, awaiting: map[string]events.SimCommand{}}
	ids := unique(iccids)
	sum.Requested = len(ids)
	err := t.gather(ctx, ids)
	if err == nil {
		err = t.settle(ctx)
	}
	if err == nil {
		err = t.decide(ctx, ids, &sum)
	}
	sum.DurationSeconds = s.now().Sub(sum.StartedAt).Seconds()
	if err != nil {
		sum.Error = err.Error()
	}
	return sum, err
}

// lookup is one SIM's answer from 1NCE.
type lookup struct {
	sim onceapi.SIM
	err error
}

// targeted is the state of one targeted run.
type targeted struct {
	s         *Syncer
	notBefore time.Time
	mu        sync.Mutex
	asked     map[string]bool
	remote    map[string]lookup
	local     map[string]domain.LocalSIM
	// awaiting are SIMs without a record whose create this process
	// published and the store does not show yet (see inflight.go).
	awaiting map[string]events.SimCommand
}

// gather looks the SIMs up, reads their records, then adds the SIMs whose
// records hold an IP 1NCE gave one of them, and gathers those too.
func (t *targeted) gather(ctx context.Context, ids []string) error {
	if err := t.fetch(ctx, ids); err != nil {
		return err
	}
	neighbours, err := t.neighbours(ctx, ids)
	if err != nil {
		return err
	}
	return t.fetch(ctx, neighbours)
}

// fetch looks up and reads the record of each SIM in ids.
func (t *targeted) fetch(ctx context.Context, ids []string) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(lookupWorkers)
	for _, id := range ids {
		g.Go(func() error {
			sim, err := t.s.Lookups.Lookup(gctx, id, t.notBefore)
			l, found, rerr := t.read(gctx, id)
			if rerr != nil {
				return rerr
			}
			t.mu.Lock()
			defer t.mu.Unlock()
			t.asked[id] = true
			t.remote[id] = lookup{sim: sim, err: err}
			if found {
				t.local[id] = l
			}
			return nil
		})
	}
	return g.Wait()
}

// read returns the reconciler's view of a SIM's record: as the record is,
// or as a command this process published for it will leave it (see
// inflight.go); a SIM without a record whose create is pending is noted
// in awaiting.
func (t *targeted) read(ctx context.Context, id string) (domain.LocalSIM, bool, error) {
	rec, err := t.s.Records.Get(ctx, id)
	found := err == nil
	if err != nil && !errors.Is(err, simstore.ErrNotFound) {
		return domain.LocalSIM{}, false, fmt.Errorf("read record of SIM %s: %w", id, err)
	}
	l := localOf(rec)
	cmd, pending := t.s.inflight.pending(id, rec, found, t.s.now())
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

// settle waits for the records of awaiting SIMs whose create no longer
// matches what 1NCE says (SettleTimeout at most); a SIM whose record does
// not appear in time counts as failed, so the request comes back.
func (t *targeted) settle(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	for id, cmd := range t.awaiting {
		r := t.remote[id]
		if r.err == nil && r.sim.Status == onceapi.StatusEnabled && sameIP(r.sim.IPAddress, cmd.IP) {
			continue // the pending create is what 1NCE says
		}
		g.Go(func() error {
			l, err := t.awaitRecord(gctx, id)
			t.mu.Lock()
			defer t.mu.Unlock()
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
func (t *targeted) awaitRecord(ctx context.Context, id string) (domain.LocalSIM, error) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = 200*time.Millisecond, 2*time.Second
	return backoff.Retry(ctx, func() (domain.LocalSIM, error) {
		rec, err := t.s.Records.Get(ctx, id)
		if errors.Is(err, simstore.ErrNotFound) {
			return domain.LocalSIM{}, err
		}
		if err != nil {
			return domain.LocalSIM{}, backoff.Permanent(err)
		}
		return localOf(rec), nil
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(t.s.SettleTimeout))
}

func sameIP(a, b string) bool {
	x, err := simip.Parse(a)
	y, err2 := simip.Parse(b)
	return err == nil && err2 == nil && x == y
}

// neighbours lists the SIMs, other than ids, whose records may give access
// at an IP 1NCE now gives one of ids.
func (t *targeted) neighbours(ctx context.Context, ids []string) ([]string, error) {
	var ips []string
	for _, id := range ids {
		r := t.remote[id]
		if r.err != nil || r.sim.Status != onceapi.StatusEnabled {
			continue
		}
		if addr, err := simip.Parse(r.sim.IPAddress); err == nil {
			ips = append(ips, addr.String())
		}
	}
	found := map[string]bool{}
	for _, ip := range unique(ips) {
		recs, err := t.s.Records.FindByIP(ctx, ip)
		if err != nil {
			return nil, fmt.Errorf("find records of IP %s: %w", ip, err)
		}
		for _, rec := range recs {
			l := localOf(rec)
			if !t.asked[rec.ICCID] && (l.Active || l.State == domain.StatePending) {
				found[rec.ICCID] = true
			}
		}
	}
	out := make([]string, 0, len(found))
	for id := range found {
		out = append(out, id)
	}
	slices.Sort(out)
	return out, nil
}

// decide runs the reconciler over what was gathered and publishes.
func (t *targeted) decide(ctx context.Context, ids []string, sum *TargetSummary) error {
	locals := make([]domain.LocalSIM, 0, len(t.local))
	for _, l := range t.local {
		locals = append(locals, l)
	}
	rec := domain.NewReconciler(locals)
	var failed []string
	var firstErr error
	for _, id := range sortedKeys(t.remote) {
		r := t.remote[id]
		switch {
		case errors.Is(r.err, onceapi.ErrSIMNotFound):
			rec.Confirm(id, domain.VerdictGone)
		case r.err != nil:
			failed = append(failed, id)
			firstErr = cmp(firstErr, r.err)
		default:
			sim := r.sim
			sim.ICCID = id // the answer may leave it out; it is the SIM asked about
			rec.Observe(remoteOf(sim))
		}
	}
	changes, report := rec.Finish(domain.Policy{ListingComplete: true, Force: true})
	sum.record(report, len(t.remote)-len(ids))
	sum.Failed = len(failed)
	sum.FailedExamples = failed[:min(len(failed), 5)]
	sum.outcomes(ids, t.remote, t.local, changes)
	var tmp Summary
	tmp.Published = sum.Published
	pubErr := t.s.publishAll(ctx, changes, &tmp)
	t.s.realtime.add(sum.Published)
	var lookupErr error
	if len(failed) > 0 {
		lookupErr = fmt.Errorf("%w: 1NCE could not say what it holds for %d of %d SIMs (kept as they are); first: %w",
			ErrLookupFailed, len(failed), len(t.remote), firstErr)
	}
	return errors.Join(lookupErr, pubErr)
}

// localOf is the reconciler's view of a record.
func localOf(r simstore.Record) domain.LocalSIM {
	s := r.Summary()
	return domain.LocalSIM{ICCID: s.ICCID, IP: s.IP, Active: s.Active, State: string(s.State), Status: s.Status,
		Version: s.Version, LastCommand: s.LastCommand}
}

// remoteOf is the reconciler's view of a SIM 1NCE holds.
func remoteOf(sim onceapi.SIM) domain.RemoteSIM {
	return domain.RemoteSIM{ICCID: sim.ICCID, IP: sim.IPAddress, Status: sim.Status,
		Attributes: domain.Attributes{IMSI: sim.IMSI, MSISDN: sim.MSISDN, Label: sim.Label}}
}

func cmp(first, err error) error {
	if first != nil {
		return first
	}
	return err
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
