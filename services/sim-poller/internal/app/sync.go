// Package app holds sim-poller's use case: one reconciliation run.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/services/sim-poller/internal/domain"
)

// ErrRunInProgress means another run holds the lock; runs never overlap.
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

// Guard configures the mass-disable protection.
type Guard struct {
	MaxDisableShare  float64
	DisableAllowance int
}

// Syncer runs reconciliations, one at a time.
type Syncer struct {
	store      Store
	inventory  Inventory
	publisher  Publisher
	notifier   Notifier
	guard      Guard
	publishers int
	logger     *slog.Logger
	now        func() time.Time
	mu         sync.Mutex
}

// NewSyncer wires the use case; publishers is how many commands are sent concurrently.
func NewSyncer(store Store, inv Inventory, pub Publisher, notifier Notifier, guard Guard, publishers int, logger *slog.Logger) *Syncer {
	return &Syncer{store: store, inventory: inv, publisher: pub, notifier: notifier, guard: guard,
		publishers: max(publishers, 1), logger: logger, now: time.Now}
}

// Summary is what a run did; POST /sync answers with it.
type Summary struct {
	StartedAt        time.Time      `json:"started_at"`
	DurationSeconds  float64        `json:"duration_seconds"`
	Complete         bool           `json:"listing_complete"`
	Listed           int            `json:"listed"`
	Pages            int            `json:"pages"`
	Unchanged        int            `json:"unchanged"`
	Published        map[string]int `json:"published"`
	Problems         map[string]int `json:"problems,omitempty"`
	GuardRefused     bool           `json:"guard_refused,omitempty"`
	DisablesWithheld int            `json:"disables_withheld,omitempty"`
	StoreActive      int            `json:"store_active"`
	StoreInactive    int            `json:"store_inactive"`
	Error            string         `json:"error,omitempty"`
}

// Sync runs one reconciliation. force overrides the mass-disable guard (never
// a failed listing). It returns ErrRunInProgress if a run is under way.
func (s *Syncer) Sync(ctx context.Context, force bool) (Summary, error) {
	if !s.mu.TryLock() {
		return Summary{}, ErrRunInProgress
	}
	defer s.mu.Unlock()
	sum := Summary{StartedAt: s.now(), Published: map[string]int{}}
	err := s.sync(ctx, force, &sum)
	sum.DurationSeconds = s.now().Sub(sum.StartedAt).Seconds()
	if err != nil {
		sum.Error = err.Error()
		s.notify(ctx, "SIM sync failed: "+err.Error())
	}
	return sum, err
}

func (s *Syncer) sync(ctx context.Context, force bool, sum *Summary) error {
	rec := domain.NewReconciler(nil)
	err := s.store.Scan(ctx, func(l simstore.Summary) error {
		rec.AddLocal(domain.LocalSIM{ICCID: l.ICCID, IP: l.IP, Active: l.Active, Version: l.Version})
		if l.Active {
			sum.StoreActive++
		} else {
			sum.StoreInactive++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read SIM store: %w", err)
	}
	stats, listErr := s.inventory.ListSIMs(ctx, func(page []onceapi.SIM) error {
		for _, sim := range page {
			rec.Observe(domain.RemoteSIM{ICCID: sim.ICCID, IP: sim.IPAddress, Status: sim.Status})
		}
		return nil
	})
	sum.Complete, sum.Pages = listErr == nil, stats.Pages
	changes, report := rec.Finish(domain.Policy{
		ListingComplete: sum.Complete, MaxDisableShare: s.guard.MaxDisableShare,
		DisableAllowance: s.guard.DisableAllowance, Force: force,
	})
	s.record(sum, report)
	s.reportProblems(ctx, report)
	pubErr := s.publishAll(ctx, changes, sum)
	if listErr != nil {
		return errors.Join(fmt.Errorf("list 1NCE SIMs (no SIM disabled this run): %w", listErr), pubErr)
	}
	return pubErr
}

func (s *Syncer) record(sum *Summary, r domain.Report) {
	sum.Listed, sum.Unchanged = r.Seen, r.Unchanged
	sum.Problems, sum.GuardRefused, sum.DisablesWithheld = r.Problems, r.GuardRefused, r.DisablesWithheld
}

// reportProblems sends one notification per run for bad data and guard
// refusals, not one per SIM. SIMs without IP are expected (not yet
// attached) and only counted.
func (s *Syncer) reportProblems(ctx context.Context, r domain.Report) {
	var parts []string
	kinds := make([]string, 0, len(r.Problems))
	for k := range r.Problems {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		if k == domain.ProblemNoIP {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s=%d (e.g. %s)", k, r.Problems[k], strings.Join(r.Examples[k], ",")))
	}
	if len(parts) > 0 {
		s.logger.Warn("1NCE listing has invalid SIMs; they were skipped", "problems", r.Problems, "examples", r.Examples)
		s.notify(ctx, "SIM sync skipped invalid SIMs: "+strings.Join(parts, "; "))
	}
	if r.GuardRefused {
		msg := fmt.Sprintf("SIM sync refused to disable %d SIMs (mass-disable guard); POST /sync?force=true after checking the 1NCE account", r.DisablesWithheld)
		s.logger.Error(msg)
		s.notify(ctx, msg)
	}
}

func (s *Syncer) notify(ctx context.Context, msg string) {
	if err := s.notifier.Failure(ctx, "", "", msg); err != nil {
		s.logger.Error("failure notification not sent", "error", err)
	}
}

// publishAll sends the changes with bounded concurrency; it keeps going past
// failures so one bad send does not hold back the rest.
func (s *Syncer) publishAll(ctx context.Context, changes []domain.Change, sum *Summary) error {
	work := make(chan domain.Change)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	observed := s.now().UTC()
	for range s.publishers {
		wg.Go(func() {
			for c := range work {
				err := s.publisher.Publish(ctx, toCommand(c, observed))
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					sum.Published[string(c.Kind)]++
				}
				mu.Unlock()
			}
		})
	}
	for _, c := range changes {
		work <- c
	}
	close(work)
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("publish %d of %d commands failed, first: %w", len(errs), len(changes), errs[0])
	}
	return nil
}

func toCommand(c domain.Change, at time.Time) events.SimCommand {
	return events.SimCommand{Kind: c.Kind, ICCID: c.ICCID, IP: c.IP, Status: c.Status, Reason: c.Reason, BaseVersion: c.BaseVersion, ObservedAt: at}
}
