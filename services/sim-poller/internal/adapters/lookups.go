package adapters

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/simbridge/simbridge/libs/onceapi"
)

// SIMGetter reads one SIM from 1NCE (onceapi.Client.GetSIM).
type SIMGetter interface {
	GetSIM(ctx context.Context, iccid string) (onceapi.SIM, error)
}

// DirectLookups asks 1NCE once per call (app.Lookups without sharing).
type DirectLookups struct {
	SIMs SIMGetter
}

// Lookup asks now, which is never earlier than notBefore.
func (l DirectLookups) Lookup(ctx context.Context, iccid string, _ time.Time) (onceapi.SIM, error) {
	return l.SIMs.GetSIM(ctx, iccid)
}

// SharedLookups is app.Lookups for hints: one SIM named by 50 hints in a
// second is looked up once.
//
//   - A question is asked Window after the first caller wanted it; every
//     caller arriving meanwhile shares it (coalescing).
//   - A caller whose hint is older than a question asked, or being asked,
//     shares that one; a caller with a newer hint gets a new question, since
//     the answer must reflect 1NCE after the hint (answers are kept for
//     Remember, so a redelivered request reuses them).
//   - Questions go through the client's 1NCE rate limit, and before that
//     through Share: while a full sync lists the account, hints take at
//     most their share of the rate, so the listing keeps the rest.
type SharedLookups struct {
	SIMs   SIMGetter
	Window time.Duration
	// Remember is how long an answer serves later callers with older hints.
	Remember time.Duration
	Share    *RateShare
	// Observer counts questions asked and shared (may be nil).
	Observer LookupObserver

	mu      sync.Mutex
	waiting map[string]*question // not asked yet
	latest  map[string]*question // asked (in progress or answered)
}

// LookupObserver counts how lookups were served.
type LookupObserver interface {
	// Lookup counts one lookup by outcome: "asked" (a new question),
	// "shared" (joined or reused another caller's).
	Lookup(outcome string)
}

// question is one GET /v1/sims/{iccid}, shared by its callers.
type question struct {
	asked time.Time // when it left the window (zero while waiting)
	done  chan struct{}
	sim   onceapi.SIM
	err   error
}

// Lookup answers with a question asked no earlier than notBefore.
func (l *SharedLookups) Lookup(ctx context.Context, iccid string, notBefore time.Time) (onceapi.SIM, error) {
	q := l.join(iccid, notBefore)
	select {
	case <-q.done:
		return q.sim, q.err
	case <-ctx.Done():
		return onceapi.SIM{}, context.Cause(ctx)
	}
}

// join returns the question this caller shares, creating one if needed.
func (l *SharedLookups) join(iccid string, notBefore time.Time) *question {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.waiting == nil {
		l.waiting, l.latest = map[string]*question{}, map[string]*question{}
	}
	if q := l.waiting[iccid]; q != nil {
		l.observe("shared")
		return q
	}
	if q := l.latest[iccid]; q != nil && !q.asked.Before(notBefore) && q.usable(l.Remember) {
		l.observe("shared")
		return q
	}
	q := &question{done: make(chan struct{})}
	l.waiting[iccid] = q
	l.observe("asked")
	time.AfterFunc(l.Window, func() { l.ask(iccid, q) })
	return q
}

// usable reports whether a question may serve another caller: still in
// progress, or answered (a SIM or 404, not a failure) less than remember ago.
func (q *question) usable(remember time.Duration) bool {
	select {
	case <-q.done:
		return (q.err == nil || errors.Is(q.err, onceapi.ErrSIMNotFound)) && time.Since(q.asked) < remember
	default:
		return true
	}
}

// lookupTimeout bounds one shared question (the client's own retries end
// within two minutes).
const lookupTimeout = 3 * time.Minute

// ask sends the question once its window closed.
func (l *SharedLookups) ask(iccid string, q *question) {
	l.mu.Lock()
	delete(l.waiting, iccid)
	q.asked = time.Now()
	l.latest[iccid] = q
	l.prune()
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	if err := l.Share.Wait(ctx); err != nil {
		q.err = err
	} else {
		q.sim, q.err = l.SIMs.GetSIM(ctx, iccid)
	}
	close(q.done)
}

// prune forgets answers older than Remember once many are kept.
func (l *SharedLookups) prune() {
	if len(l.latest) < 10_000 {
		return
	}
	for id, q := range l.latest {
		select {
		case <-q.done:
			if time.Since(q.asked) > l.Remember {
				delete(l.latest, id)
			}
		default:
		}
	}
}

func (l *SharedLookups) observe(outcome string) {
	if l.Observer != nil {
		l.Observer.Lookup(outcome)
	}
}

// RateShare paces hint lookups: at the full 1NCE rate while no listing
// runs, at Share of it while one does (the 1NCE client's own limiter, which
// every request passes, keeps the total within the rate).
type RateShare struct {
	full, share float64
	limiter     *rate.Limiter
	listings    atomic.Int32
	mu          sync.Mutex
}

// NewRateShare paces hints at perSecond, and at share×perSecond while a
// listing runs.
func NewRateShare(perSecond, share float64) *RateShare {
	return &RateShare{full: perSecond, share: share, limiter: rate.NewLimiter(rate.Limit(perSecond), 1)}
}

// Wait blocks until a hint lookup may go.
func (r *RateShare) Wait(ctx context.Context) error { return r.limiter.Wait(ctx) }

// During runs fn as a listing: hints get their share only while it runs.
func (r *RateShare) During(fn func()) {
	r.mu.Lock()
	if r.listings.Add(1) == 1 {
		r.limiter.SetLimit(rate.Limit(r.full * r.share))
	}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		if r.listings.Add(-1) == 0 {
			r.limiter.SetLimit(rate.Limit(r.full))
		}
		r.mu.Unlock()
	}()
	fn()
}

// Inventory is the 1NCE inventory as the full sync uses it.
type Inventory interface {
	ListSIMs(ctx context.Context, fn func(page []onceapi.SIM) error) (onceapi.ListStats, error)
	GetSIM(ctx context.Context, iccid string) (onceapi.SIM, error)
}

// SharingInventory marks the full sync's listings on the RateShare, so
// hints yield while the account is listed.
type SharingInventory struct {
	Inventory
	Share *RateShare
}

// ListSIMs lists the account as a listing of the RateShare.
func (s SharingInventory) ListSIMs(ctx context.Context, fn func(page []onceapi.SIM) error) (stats onceapi.ListStats, err error) {
	s.Share.During(func() { stats, err = s.Inventory.ListSIMs(ctx, fn) })
	return stats, err
}

// SharedListing lists the account for targeted syncs that name more SIMs
// than the account has pages: requests arriving together (1NCE sends a
// burst of changes in several batches) share one listing, asked Window
// after the first wanted it; a request whose hint is newer than a listing
// already under way gets a new one.
type SharedListing struct {
	Inventory interface {
		ListSIMs(ctx context.Context, fn func(page []onceapi.SIM) error) (onceapi.ListStats, error)
	}
	Window time.Duration

	mu      sync.Mutex
	waiting *listing
	latest  *listing
}

// listing is one walk through the account, shared by its callers.
type listing struct {
	asked time.Time
	done  chan struct{}
	sims  map[string]onceapi.SIM
	err   error
}

// Snapshot returns every SIM of a listing begun no earlier than notBefore,
// by ICCID; err says the listing did not complete (the SIMs seen are
// returned anyway).
func (l *SharedListing) Snapshot(ctx context.Context, notBefore time.Time) (map[string]onceapi.SIM, error) {
	q := l.join(notBefore)
	select {
	case <-q.done:
		return q.sims, q.err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

func (l *SharedListing) join(notBefore time.Time) *listing {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.waiting != nil {
		return l.waiting
	}
	if q := l.latest; q != nil && !q.asked.Before(notBefore) {
		select {
		case <-q.done:
			if q.err == nil && time.Since(q.asked) < time.Minute {
				return q
			}
		default:
			return q
		}
	}
	q := &listing{done: make(chan struct{})}
	l.waiting = q
	time.AfterFunc(l.Window, func() { l.list(q) })
	return q
}

func (l *SharedListing) list(q *listing) {
	l.mu.Lock()
	l.waiting, l.latest = nil, q
	q.asked = time.Now()
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	sims := map[string]onceapi.SIM{}
	_, err := l.Inventory.ListSIMs(ctx, func(page []onceapi.SIM) error {
		for _, s := range page {
			sims[s.ICCID] = s
		}
		return nil
	})
	q.sims, q.err = sims, err
	close(q.done)
}
