package app

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/services/sim-poller/internal/domain"
)

// A full sync publishes while it lists (domain.Reconciler.Release): the
// commands of each page go to a pipeline of s.publishers workers, and the
// listing goes on. Each command of a SIM the store knows is first rebased:
// the summary index it was decided from is eventually consistent and
// carries no LastCommand, so the record is read (strongly consistent) and
// the change is computed again against it (domain.Redecide) when it moved
// on since the scan. Sending blocks while every worker is busy, which slows
// the listing instead of piling commands up in memory.

// pipeline publishes one run's commands.
type pipeline struct {
	s       *Syncer
	sum     *Summary
	started time.Time
	ch      chan events.SimCommand
	g       errgroup.Group
	t       tally
	mu      sync.Mutex // guards sum's counters and first
	first   bool
	wanted  int
}

// publishing starts a run's pipeline; close waits for it.
func (s *Syncer) publishing(ctx context.Context, sum *Summary) *pipeline {
	p := &pipeline{s: s, sum: sum, started: s.Clock.Now(), ch: make(chan events.SimCommand)}
	observed := s.Clock.Now().UTC()
	for range s.publishers {
		p.g.Go(func() error {
			for cmd := range p.ch {
				p.publish(ctx, cmd, observed)
			}
			return nil
		})
	}
	return p
}

// send hands cmds to the workers, leaving out the SIMs a targeted sync
// published a command for since the run began (its lookup is newer than the
// listing, see inflight.go); it stops early when ctx ends.
func (p *pipeline) send(ctx context.Context, cmds []events.SimCommand) {
	for _, cmd := range cmds {
		if p.s.inflight.publishedSince(cmd.ICCID, p.sum.StartedAt) {
			p.count(func(s *Summary) { s.Superseded++ })
			continue
		}
		p.mu.Lock()
		p.wanted++
		p.mu.Unlock()
		select {
		case p.ch <- cmd:
		case <-ctx.Done():
			return
		}
	}
}

// publish rebases and sends one command.
func (p *pipeline) publish(ctx context.Context, cmd events.SimCommand, observed time.Time) {
	if ctx.Err() != nil {
		return
	}
	cmd, keep, err := p.s.rebase(ctx, cmd)
	if err != nil {
		p.t.add(cmd.Kind, err)
		return
	}
	if !keep {
		p.count(func(s *Summary) { s.Rebased++ })
		return
	}
	cmd.ObservedAt = observed
	err = p.s.Publisher.Publish(ctx, cmd)
	if err == nil {
		p.s.inflight.add(cmd, p.s.Clock.Now())
		p.mu.Lock()
		if !p.first {
			p.first = true
			p.sum.FirstCommandSeconds = p.s.Clock.Now().Sub(p.started).Seconds()
		}
		p.mu.Unlock()
	}
	p.t.add(cmd.Kind, err)
}

func (p *pipeline) count(f func(*Summary)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p.sum)
}

// close waits for the workers and reports failed and unsent commands.
func (p *pipeline) close(ctx context.Context) error {
	close(p.ch)
	_ = p.g.Wait()
	for kind, n := range p.t.sent {
		p.sum.Published[string(kind)] += n
	}
	return p.t.err(context.Cause(ctx), p.wanted-p.sum.Rebased)
}

// rebase reads the record of a SIM the store knew when the run began and
// returns cmd computed against it; keep is false when the record no longer
// needs it. A command for a SIM without a record (BaseVersion 0) is sent
// as it is.
func (s *Syncer) rebase(ctx context.Context, cmd events.SimCommand) (out events.SimCommand, keep bool, err error) {
	if cmd.BaseVersion == 0 || s.Records == nil {
		return cmd, true, nil
	}
	rec, err := s.Records.Get(ctx, cmd.ICCID)
	switch {
	case errors.Is(err, simrec.ErrNotFound):
		return cmd, false, nil // the record went away since the scan: nothing to build on
	case err != nil:
		return cmd, false, err
	case rec.Version == cmd.BaseVersion:
		cmd.BaseCommand = rec.LastCommand
		return cmd, true, nil
	}
	out, keep = domain.Redecide(cmd, rec.Summary())
	return out, keep, nil
}

// disableLate takes access away from SIMs released before a later page
// showed their IP conflict (domain.LateConflict): it waits, at most
// SettleTimeout, for the released command to write the record (it exists,
// unclaimed, past the version the run began with), then disables it
// against what the record says. A SIM whose record does not settle is
// disabled against the record as it is; the next full sync sees the
// conflict again if that disable turns out stale.
func (s *Syncer) disableLate(ctx context.Context, late []domain.LateConflict) []events.SimCommand {
	var mu sync.Mutex
	var out []events.SimCommand
	var g errgroup.Group
	g.SetLimit(lookupWorkers)
	for _, lc := range late {
		g.Go(func() error {
			l, err := s.settled(ctx, lc)
			if err != nil {
				return nil
			}
			if cmd, ok := domain.Redecide(events.SimCommand{Kind: events.KindDisable, ICCID: lc.ICCID, IP: lc.IP, Status: domain.StatusEnabled,
				Reason: domain.ReasonIPConflict}, l); ok {
				mu.Lock()
				out = append(out, cmd)
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait()
	return out
}

// settled polls the record of a late conflict until its released command
// has written it, or SettleTimeout passes (then it returns the record as
// it is, if there is one).
func (s *Syncer) settled(ctx context.Context, lc domain.LateConflict) (simrec.Summary, error) {
	var last simrec.Summary
	var found bool
	errNotYet := errors.New("released command not written yet")
	_, err := retry(ctx, s.Clock, settleBackoff(), s.SettleTimeout, func() (struct{}, error) {
		rec, err := s.Records.Get(ctx, lc.ICCID)
		switch {
		case errors.Is(err, simrec.ErrNotFound):
			return struct{}{}, errNotYet
		case err != nil:
			return struct{}{}, err
		}
		last, found = rec.Summary(), true
		if rec.Version <= lc.Version || rec.Claimed("", s.Clock.Now()) {
			return struct{}{}, errNotYet
		}
		return struct{}{}, nil
	})
	if err != nil && !found {
		return simrec.Summary{}, err
	}
	return last, nil
}
