package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/services/sim-poller/internal/domain"
)

// Sync runs one reconciliation. force overrides the mass-disable guard (never
// an incomplete listing). It returns an error wrapping ErrRunInProgress when
// a run is under way here or on another replica, and an error for every run
// that is not a success: a failed or incomplete listing, a guard refusal
// (ErrGuardRefused), absent SIMs that could not be confirmed
// (ErrUnconfirmed), failed publishes, or ctx ending first (ErrInterrupted,
// with the summary of what was done). Whatever went wrong in a run that was
// not interrupted (including invalid SIMs 1NCE listed) is told to operators
// in one failure notification.
func (s *Syncer) Sync(ctx context.Context, force bool) (Summary, error) {
	return s.sync(ctx, force, false)
}

// Plan is a full sync as a dry run (`simbridge audit`): the listing, the
// confirmation of absent SIMs and the decisions, run like Sync (one run at
// a time, under the lease, sharing 1NCE's rate), but nothing is published
// and nobody is notified. The summary's PlannedSIMs list the changes the
// run would send and the SIMs the rules skip.
func (s *Syncer) Plan(ctx context.Context) (Summary, error) {
	return s.sync(ctx, false, true)
}

func (s *Syncer) sync(ctx context.Context, force, dry bool) (Summary, error) {
	if t := s.RunTimeout(); t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	if !s.mu.TryLock() {
		return Summary{}, ErrRunInProgress
	}
	defer s.mu.Unlock()
	sum := Summary{StartedAt: s.Clock.Now().UTC(), Published: map[string]int{}, DryRun: dry}
	err := s.Lease.Do(ctx, func(ctx context.Context) error { return s.run(ctx, force, dry, &sum) })
	if errors.Is(err, ErrRunInProgress) {
		return Summary{}, err
	}
	sum.DurationSeconds = s.Clock.Now().Sub(sum.StartedAt).Seconds()
	interrupted := err != nil && ctx.Err() != nil
	switch {
	case interrupted:
		sum.Interrupted = true
		err = fmt.Errorf("sync: %w (%w): %w", ErrInterrupted, context.Cause(ctx), err)
	case err != nil:
		err = fmt.Errorf("sync: %w", err)
	}
	if err != nil {
		sum.Error = err.Error()
	}
	if interrupted || dry {
		// Shutdown, the run's deadline or a caller that went away: an
		// interrupted run is no news for operators (it disabled nothing it
		// had not proven); the next one starts afresh. A dry run's answer
		// goes to its requester only.
		return sum, err
	}
	s.notify(ctx, sum)
	s.summarize(ctx, sum, err)
	return sum, err
}

// run reads the store's summaries, lists 1NCE page by page and publishes
// each page's creates and updates while the listing goes on
// (domain.Reconciler.Release), then confirms the absence of active SIMs it
// did not list, decides the rest and publishes it. A listing that failed or
// did not add up, or a run whose context ended (shutdown, lost lease),
// disables nothing. A dry run publishes nothing and answers with the plan.
func (s *Syncer) run(ctx context.Context, force, dry bool, sum *Summary) error {
	rec := domain.NewReconciler(nil)
	if dry {
		rec.KeepSkipped = events.MaxLookupICCIDs
	}
	if err := s.scanStore(ctx, rec, sum); err != nil {
		return err
	}
	var out *pipeline
	if !dry {
		out = s.publishing(ctx, sum)
	}
	pages, listErr := s.Inventory.ListSIMs(ctx, func(page []domain.RemoteSIM) error {
		for _, sim := range page {
			rec.Observe(sim)
		}
		if out != nil {
			out.send(ctx, rec.Release())
		}
		return nil
	})
	sum.Pages = pages
	sum.Complete = listErr == nil && ctx.Err() == nil
	policy := domain.Policy{
		ListingComplete: sum.Complete, MaxDisableShare: s.guard.MaxDisableShare,
		DisableAllowance: s.guard.DisableAllowance, Force: force,
	}
	confirmErr := s.confirmAbsent(ctx, rec, rec.PlanConfirmations(policy))
	changes, report := rec.Finish(policy)
	sum.record(report)
	if sum.Complete {
		s.lastListed.Store(int64(sum.Listed))
	}
	s.rememberConflicts(ctx, rec, sum.Complete)
	if dry {
		sum.plan(changes, rec.Skipped())
		return errors.Join(listErr, confirmErr)
	}
	out.send(ctx, changes)
	if late := rec.LateConflicts(); len(late) > 0 && s.Records != nil {
		out.send(ctx, s.disableLate(ctx, late))
	}
	pubErr := out.close(ctx)
	if listErr != nil {
		listErr = fmt.Errorf("list 1NCE SIMs (no SIM disabled this run): %w", listErr)
	}
	return errors.Join(listErr, confirmErr, guardErr(report), pubErr)
}

// rememberConflicts hands the listing's IP conflicts to Conflicts: all of
// them after a complete listing, as additions after an incomplete one.
func (s *Syncer) rememberConflicts(ctx context.Context, rec *domain.Reconciler, complete bool) {
	if s.Conflicts == nil || ctx.Err() != nil {
		return
	}
	found := rec.Conflicts()
	var err error
	if complete {
		err = s.Conflicts.Replace(ctx, found)
	} else if len(found) > 0 {
		err = s.Conflicts.Note(ctx, sortedKeys(found), found)
	}
	if err != nil {
		s.Logger.Warn("IP conflicts not remembered; targeted syncs see only those of records", "error", err)
	}
}

// guardErr says why the guard refused, with what the operator needs to
// decide whether to force the run.
func guardErr(r domain.Report) error {
	if !r.GuardRefused {
		return nil
	}
	const next = "check the 1NCE account, then POST /sync?force=true"
	if r.Seen == 0 {
		return fmt.Errorf("%w: 1NCE listed no SIM while %d active SIMs are absent from it; no SIM disabled; %s", ErrGuardRefused, r.Absent, next)
	}
	return fmt.Errorf("%w: refused to disable %d SIMs, more than the %d one run may disable (%d active SIMs absent from the listing, %d of them not checked); %s",
		ErrGuardRefused, r.DisablesWithheld, r.DisableLimit, r.Absent, r.Unconfirmed, next)
}

// scanStore streams the store's summaries into the reconciler.
func (s *Syncer) scanStore(ctx context.Context, rec *domain.Reconciler, sum *Summary) error {
	err := s.Store.Scan(ctx, func(l simrec.Summary) error {
		rec.AddLocal(l)
		if l.Active {
			sum.StoreActive++
		} else {
			sum.StoreInactive++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read SIM store (nothing published this run): %w", err)
	}
	return nil
}

// RunTimeout is how long one full run may take: Timeout, or more when the
// account is larger than Timeout allows to list. A listing costs one request
// a page at ListRate (the share of 1NCE's rate a full sync can count on
// while hints take theirs), so the bound is half as much again as the last
// complete listing needs, plus five minutes for confirmations and the last
// publishes: a million SIMs at 5 requests/s take 33 minutes to list, and
// their run may take 55.
func (s *Syncer) RunTimeout() time.Duration {
	if s.ListRate <= 0 || s.PageSize <= 0 {
		return s.Timeout
	}
	pages := s.lastListed.Load()/int64(s.PageSize) + 2
	need := time.Duration(1.5*float64(pages)/s.ListRate*float64(time.Second)) + 5*time.Minute
	if s.Timeout > 0 && need > s.Timeout {
		return need
	}
	return s.Timeout
}
