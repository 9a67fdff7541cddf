package app

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/simbridge/simbridge/libs/events"
)

// publishAll sends the changes with bounded concurrency. It keeps going past
// a failed send, so one bad send does not hold back the rest, but sends
// nothing more once ctx ends: a run that lost its lease must not disable.
func (s *Syncer) publishAll(ctx context.Context, changes []events.SimCommand, sum *Summary) error {
	var t tally
	observed := s.Clock.Now().UTC()
	var g errgroup.Group
	g.SetLimit(s.publishers)
	for _, cmd := range changes {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if ctx.Err() != nil {
				return nil
			}
			cmd.ObservedAt = observed
			err := s.Publisher.Publish(ctx, cmd)
			if err == nil {
				s.inflight.add(cmd, s.Clock.Now())
			}
			t.add(cmd.Kind, err)
			return nil
		})
	}
	_ = g.Wait()
	for kind, n := range t.sent {
		sum.Published[string(kind)] += n
	}
	return t.err(context.Cause(ctx), len(changes))
}

// tally counts the outcomes of concurrent sends.
type tally struct {
	mu     sync.Mutex
	sent   map[events.Kind]int
	total  int
	failed int
	first  error
}

func (t *tally) add(kind events.Kind, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.failed++
		if t.first == nil {
			t.first = err
		}
		return
	}
	if t.sent == nil {
		t.sent = map[events.Kind]int{}
	}
	t.sent[kind]++
	t.total++
}

// err says which sends failed and whether the run stopped before the end.
func (t *tally) err(stopped error, want int) error {
	var errs []error
	if t.failed > 0 {
		errs = append(errs, fmt.Errorf("publish %d of %d commands failed, first: %w", t.failed, want, t.first))
	}
	if stopped != nil && t.total+t.failed < want {
		errs = append(errs, fmt.Errorf("stopped after publishing %d of %d commands: %w", t.total, want, stopped))
	}
	return errors.Join(errs...)
}
