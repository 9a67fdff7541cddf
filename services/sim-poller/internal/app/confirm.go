package app

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/simbridge/simbridge/services/sim-poller/internal/domain"
)

// confirmers bounds the single-SIM requests in flight; the client's rate
// limit, shared with the listing, paces them.
const confirmers = 4

// confirmAbsent asks 1NCE about each SIM of plan (see domain/absent.go) and
// records the verdicts in rec. It stops asking once the guard would refuse
// the run anyway, or ctx ends. A SIM whose question failed, after the
// client's retries, keeps its access this run, and the run fails with
// ErrUnconfirmed.
func (s *Syncer) confirmAbsent(ctx context.Context, rec *domain.Reconciler, plan domain.ConfirmPlan) error {
	c := &confirmation{rec: rec, plan: plan}
	var g errgroup.Group
	g.SetLimit(confirmers)
	for _, iccid := range plan.ICCIDs {
		if ctx.Err() != nil || c.enough() {
			break
		}
		g.Go(func() error {
			if ctx.Err() != nil || c.enough() {
				return nil
			}
			v, err := s.verdict(ctx, iccid)
			c.record(iccid, v, err)
			return nil
		})
	}
	_ = g.Wait()
	return errors.Join(c.err(), c.stopped(ctx))
}

// verdict asks the single-SIM endpoint about iccid.
func (s *Syncer) verdict(ctx context.Context, iccid string) (domain.Verdict, error) {
	sim, err := s.Inventory.GetSIM(ctx, iccid)
	switch {
	case errors.Is(err, ErrSIMNotFound):
		return domain.VerdictGone, nil
	case err != nil:
		return domain.VerdictUnknown, err
	}
	v := domain.VerdictFor(sim.Status)
	if v == domain.VerdictUnknown {
		return v, fmt.Errorf("SIM %s: 1NCE status %q is neither %s nor %s", iccid, sim.Status, domain.StatusEnabled, domain.StatusDisabled)
	}
	return v, nil
}

// confirmation collects the verdicts of concurrent questions.
type confirmation struct {
	mu       sync.Mutex
	rec      *domain.Reconciler
	plan     domain.ConfirmPlan
	disables int
	asked    int
	failed   int
	first    error
}

// record hands a verdict to the reconciler (which is not safe for
// concurrent use) and counts it.
func (c *confirmation) record(iccid string, v domain.Verdict, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked++
	c.rec.Confirm(iccid, v)
	switch {
	case err != nil:
		c.failed++
		if c.first == nil {
			c.first = err
		}
	case v == domain.VerdictGone || v == domain.VerdictDisabled:
		c.disables++
	}
}

// enough reports whether more disables were confirmed than the guard allows.
func (c *confirmation) enough() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.plan.MaxDisables >= 0 && c.disables > c.plan.MaxDisables
}

// stopped says how far confirming got when ctx ended before every SIM was
// asked about (and the guard had not made the rest moot).
func (c *confirmation) stopped(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ctx.Err() == nil || c.asked == len(c.plan.ICCIDs) || c.plan.MaxDisables >= 0 && c.disables > c.plan.MaxDisables {
		return nil
	}
	return fmt.Errorf("stopped after asking about %d of %d absent SIMs: %w", c.asked, len(c.plan.ICCIDs), context.Cause(ctx))
}

// err names the questions that failed.
func (c *confirmation) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failed == 0 {
		return nil
	}
	return fmt.Errorf("%w: 1NCE could not say whether %d of %d absent SIMs are gone, so they keep their access this run; first: %w",
		ErrUnconfirmed, c.failed, c.asked, c.first)
}
