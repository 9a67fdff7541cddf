// Package app holds sim-poller's use case: one reconciliation run.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/simstore"
)

// ErrRunInProgress means another run holds the lock or, on another replica,
// the lease; runs never overlap.
var ErrRunInProgress = errors.New("a sync run is already in progress")

// Store lists what the SIM store holds.
type Store interface {
	Scan(ctx context.Context, fn func(simstore.Summary) error) error
}

// Inventory lists the 1NCE account's SIMs page by page.
type Inventory interface {
	ListSIMs(ctx context.Context, fn func(page []onceapi.SIM) error) (onceapi.ListStats, error)
}

// Publisher sends one command to its queue.
type Publisher interface {
	Publish(ctx context.Context, cmd events.SimCommand) error
}

// Notifier tells operators about failures.
type Notifier interface {
	Failure(ctx context.Context, iccid, ip, msg string) error
}

// Lease keeps runs of several replicas apart. Do runs fn while holding it and
// returns an error wrapping ErrRunInProgress, without calling fn, when another
// replica holds it; fn's context ends if the lease is lost mid-run.
type Lease interface {
	Do(ctx context.Context, fn func(ctx context.Context) error) error
}

// Guard configures the mass-disable protection.
type Guard struct {
	MaxDisableShare  float64
	DisableAllowance int
}

// Deps are the syncer's collaborators.
type Deps struct {
	Store     Store
	Inventory Inventory
	Publisher Publisher
	Notifier  Notifier
	Lease     Lease
	Logger    *slog.Logger
}

// Syncer runs reconciliations, one at a time across every replica.
type Syncer struct {
	Deps
	guard      Guard
	publishers int
	now        func() time.Time
	mu         sync.Mutex
}

// NewSyncer wires the use case; publishers is how many commands are sent concurrently.
func NewSyncer(d Deps, guard Guard, publishers int) (*Syncer, error) {
	if d.Store == nil || d.Inventory == nil || d.Publisher == nil || d.Notifier == nil || d.Lease == nil || d.Logger == nil {
		return nil, errors.New("syncer: every dependency is required")
	}
	return &Syncer{Deps: d, guard: guard, publishers: max(publishers, 1), now: time.Now}, nil
}

// Sync runs one reconciliation. force overrides the mass-disable guard (never
// a failed listing). It returns an error wrapping ErrRunInProgress when a run
// is under way here or on another replica. Whatever went wrong in a run (it
// failed, the guard refused, 1NCE listed invalid SIMs) is told to operators
// in one failure notification.
func (s *Syncer) Sync(ctx context.Context, force bool) (Summary, error) {
	if !s.mu.TryLock() {
		return Summary{}, ErrRunInProgress
	}
	defer s.mu.Unlock()
	sum := Summary{StartedAt: s.now().UTC(), Published: map[string]int{}}
	err := s.Lease.Do(ctx, func(ctx context.Context) error { return s.run(ctx, force, &sum) })
	if errors.Is(err, ErrRunInProgress) {
		return Summary{}, err
	}
	sum.DurationSeconds = s.now().Sub(sum.StartedAt).Seconds()
	if err != nil {
		err = fmt.Errorf("sync: %w", err)
		sum.Error = err.Error()
	}
	if ctx.Err() != nil {
		// Shutdown or a caller that went away: an interrupted run is no news
		// for operators (it disabled nothing); the next one starts afresh.
		return sum, err
	}
	s.notify(ctx, sum)
	return sum, err
}
