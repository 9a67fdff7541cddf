package adapters

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
	"github.com/simbridge/simbridge/services/sim-poller/internal/domain"
)

// SIMGetter reads one SIM from 1NCE (OnceInventory.GetSIM).
type SIMGetter interface {
	GetSIM(ctx context.Context, iccid string) (domain.RemoteSIM, error)
}

// SharedLookups is app.Lookups for hints: one SIM named by 50 hints in a
// second is looked up twice at most, and a lone change is asked about at
// once.
//
//   - A question about a SIM nobody asked about within Window goes to 1NCE
//     at once: a single change does not wait for company that is not
//     coming. A question about a SIM asked about less than Window ago waits
//     until Window after that one, and every caller arriving meanwhile
//     shares it (coalescing: a burst of hints about one SIM costs one
//     question per Window).
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
	sim   domain.RemoteSIM
	err   error
}

// Lookup answers with a question asked no earlier than notBefore.
func (l *SharedLookups) Lookup(ctx context.Context, iccid string, notBefore time.Time) (domain.RemoteSIM, error) {
	q := l.join(iccid, notBefore)
	select {
	case <-q.done:
		return q.sim, q.err
	case <-ctx.Done():
		return domain.RemoteSIM{}, context.Cause(ctx)
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
	var wait time.Duration
	if last := l.latest[iccid]; last != nil && !last.asked.IsZero() {
		wait = l.Window - time.Since(last.asked)
	}
	if wait > 0 {
		time.AfterFunc(wait, func() { l.ask(iccid, q) })
	} else {
		go l.ask(iccid, q)
	}
	return q
}

// usable reports whether a question may serve another caller: still in
// progress, or answered (a SIM or 404, not a failure) less than remember ago.
func (q *question) usable(remember time.Duration) bool {
	select {
	case <-q.done:
		return (q.err == nil || errors.Is(q.err, app.ErrSIMNotFound)) && time.Since(q.asked) < remember
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
