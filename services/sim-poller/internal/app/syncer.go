// Package app holds sim-poller's use cases, one per file:
//
//   - full_sync.go: one reconciliation of the whole 1NCE account with the
//     SIM store (the schedule, POST /sync, a full-sync request);
//   - targeted_sync.go: the same rules applied to a few SIMs, each looked
//     up on its own (operators' "sync these SIMs", Data Streamer hints);
//   - sync_request.go: a request from the sync queue, run and answered;
//   - hints.go: Data Streamer records turned into a sync request.
//
// Both syncs share the Syncer (syncer.go): its dependencies, declared here
// as the small interfaces the use cases call, and its memory of the
// commands it published (inflight.go). The rules themselves are in
// internal/domain; nothing here imports an SDK or a transport.
package app

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/services/sim-poller/internal/domain"
)

// Errors callers branch on: each names a way a run is not a success.
var (
	// ErrRunInProgress means another run holds the lock or, on another
	// replica, the lease; runs never overlap.
	ErrRunInProgress = errors.New("a sync run is already in progress")
	// ErrInterrupted means the run's context ended (shutdown, deadline) before
	// it finished; nothing more was published, and its cause is wrapped too.
	ErrInterrupted = errors.New("sync interrupted")
	// ErrGuardRefused means the mass-disable guard withheld this run's disables.
	ErrGuardRefused = errors.New("mass-disable guard refused")
	// ErrUnconfirmed means 1NCE could not be asked whether some absent SIMs
	// are gone; they keep their access this run.
	ErrUnconfirmed = errors.New("absent SIMs not confirmed")
	// ErrSIMNotFound is the Inventory's (and Lookups') answer for a SIM the
	// 1NCE account does not hold: proof that it left.
	ErrSIMNotFound = errors.New("SIM not in the 1NCE account")
)

// Store lists what the SIM store holds.
type Store interface {
	Scan(ctx context.Context, fn func(simrec.Summary) error) error
}

// Inventory reads the 1NCE account. ListSIMs hands every SIM to fn page by
// page and returns how many pages it read; an error means the listing
// failed or did not add up (then nothing may be disabled). GetSIM reads one
// SIM, an error wrapping ErrSIMNotFound when the account does not hold it.
type Inventory interface {
	ListSIMs(ctx context.Context, fn func(page []domain.RemoteSIM) error) (pages int, err error)
	GetSIM(ctx context.Context, iccid string) (domain.RemoteSIM, error)
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
	// Records and Lookups serve targeted syncs (SyncSIMs); a syncer
	// without them runs full syncs only.
	Records Records
	Lookups Lookups
	// Listings, when set, serves targeted syncs of more SIMs than the
	// account has pages.
	Listings Listings
	// Summaries, when set, gets one summary per run that changed anything.
	Summaries Summaries
	// Conflicts, when set, remembers IP conflicts between runs, so targeted
	// syncs know every SIM 1NCE gives an IP (conflicts.go).
	Conflicts Conflicts
}

// Syncer runs reconciliations, one at a time across every replica.
type Syncer struct {
	Deps
	// Timeout bounds one full run (none when not positive), so a hung
	// listing or publish cannot hold the lease and the schedule forever;
	// a run that hits it is interrupted (ErrInterrupted, DeadlineExceeded).
	Timeout time.Duration
	// SettleTimeout bounds how long a targeted sync waits for the record
	// of a SIM whose create is still in a queue (see inflight.go).
	SettleTimeout time.Duration
	// PageSize is the 1NCE listing's page size: with the size of the last
	// complete listing it says when a targeted sync lists instead.
	PageSize int
	// ListRate is the requests per second a full sync's listing can count
	// on; with the last listing's size it stretches Timeout for accounts
	// larger than Timeout can list (RunTimeout). Not positive: Timeout.
	ListRate float64
	// Clock is the time runs read and wait on (SystemClock).
	Clock      Clock
	lastListed atomic.Int64
	guard      Guard
	publishers int
	mu         sync.Mutex
	inflight   inflight
	realtime   realtimeCounts
}

// NewSyncer wires the use case; publishers is how many commands are sent concurrently.
func NewSyncer(d Deps, guard Guard, publishers int) (*Syncer, error) {
	if d.Store == nil || d.Inventory == nil || d.Publisher == nil || d.Notifier == nil || d.Lease == nil || d.Logger == nil {
		return nil, errors.New("syncer: every dependency is required")
	}
	return &Syncer{Deps: d, guard: guard, publishers: max(publishers, 1), Clock: SystemClock{}, SettleTimeout: 30 * time.Second}, nil
}
