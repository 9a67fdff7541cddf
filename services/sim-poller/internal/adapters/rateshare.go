package adapters

import (
	"context"
	"sync"
	"sync/atomic"

	"golang.org/x/time/rate"

	"github.com/simbridge/simbridge/services/sim-poller/internal/domain"
)

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

// Inventory is the 1NCE inventory as the full sync uses it (OnceInventory).
type Inventory interface {
	ListSIMs(ctx context.Context, fn func(page []domain.RemoteSIM) error) (pages int, err error)
	GetSIM(ctx context.Context, iccid string) (domain.RemoteSIM, error)
}

// SharingInventory marks the full sync's listings on the RateShare, so
// hints yield while the account is listed.
type SharingInventory struct {
	Inventory
	Share *RateShare
}

// ListSIMs lists the account as a listing of the RateShare.
func (s SharingInventory) ListSIMs(ctx context.Context, fn func(page []domain.RemoteSIM) error) (pages int, err error) {
	s.Share.During(func() { pages, err = s.Inventory.ListSIMs(ctx, fn) })
	return pages, err
}
