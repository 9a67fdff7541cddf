package adapters

import (
	"context"
	"sync"
	"time"

	"github.com/simbridge/simbridge/services/sim-poller/internal/domain"
)

// SharedListing lists the account for targeted syncs that name more SIMs
// than the account has pages: requests arriving together (1NCE sends a
// burst of changes in several batches) share one listing, asked Window
// after the first wanted it; a request whose hint is newer than a listing
// already under way gets a new one.
type SharedListing struct {
	Inventory interface {
		ListSIMs(ctx context.Context, fn func(page []domain.RemoteSIM) error) (pages int, err error)
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
	sims  map[string]domain.RemoteSIM
	err   error
}

// Snapshot returns every SIM of a listing begun no earlier than notBefore,
// by ICCID; err says the listing did not complete (the SIMs seen are
// returned anyway).
func (l *SharedListing) Snapshot(ctx context.Context, notBefore time.Time) (map[string]domain.RemoteSIM, error) {
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
	sims := map[string]domain.RemoteSIM{}
	_, err := l.Inventory.ListSIMs(ctx, func(page []domain.RemoteSIM) error {
		for _, s := range page {
			sims[s.ICCID] = s
		}
		return nil
	})
	q.sims, q.err = sims, err
	close(q.done)
}
