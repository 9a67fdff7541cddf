package oncesim

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/simbridge/simbridge/libs/onceapi"
)

// Mutation is one change of the inventory that happens while a client pages through it, an
// element of the body of PUT /admin/mutations. Offset paging over an account that changes
// between two page requests shifts every later page: a removed SIM makes the next one slide
// onto a page already read (never seen), an added one makes a SIM appear twice. Tests use
// mutations to reproduce that over HTTP, at an exact point of the listing.
//
// A mutation fires once, just before the listing serves the page request that follows
// AfterPages pages served since the mutations were set (AfterPages 2: between pages 2 and 3 of
// a listing that starts after the set). Only pages the listing handler served count, not
// answers a fault rule made up (a 500, a reset).
type Mutation struct {
	AfterPages int           `json:"after_pages"`
	Remove     []string      `json:"remove,omitempty"` // ICCIDs to delete
	Add        []onceapi.SIM `json:"add,omitempty"`    // SIMs to insert (status defaults to Enabled)
}

// MutationState is a mutation as GET /admin/mutations reports it: whether it fired, and what
// went wrong if a change could not be made (e.g. the SIM to remove was already gone).
type MutationState struct {
	Mutation
	Fired bool   `json:"fired"`
	Error string `json:"error,omitempty"`
}

// Validate rejects mutations that cannot fire or change nothing, so a test's typo is a 400.
func (m Mutation) Validate() error {
	if m.AfterPages < 0 {
		return errors.New("after_pages must not be negative")
	}
	if len(m.Remove) == 0 && len(m.Add) == 0 {
		return errors.New("mutation changes nothing (want remove and/or add)")
	}
	if slices.Contains(m.Remove, "") {
		return fmt.Errorf("%w: empty ICCID to remove", ErrInvalidSIM)
	}
	_, err := prepareBatch(m.Add)
	return err
}

// mutator holds the pending mutations and counts served pages.
type mutator struct {
	mu     sync.Mutex
	served int
	states []MutationState
}

// set validates and replaces the mutations and restarts the page count.
func (m *mutator) set(ms []Mutation) error {
	states := make([]MutationState, len(ms))
	for i, mu := range ms {
		if err := mu.Validate(); err != nil {
			return fmt.Errorf("mutation %d: %w", i, err)
		}
		mu.Remove, mu.Add = slices.Clone(mu.Remove), slices.Clone(mu.Add)
		states[i] = MutationState{Mutation: mu}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.served, m.states = 0, states
	return nil
}

// list returns a copy of the mutations and their outcome.
func (m *mutator) list() []MutationState {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]MutationState, len(m.states))
	for i, s := range m.states {
		s.Remove, s.Add = slices.Clone(s.Remove), slices.Clone(s.Add)
		out[i] = s
	}
	return out
}

// beforePage applies, in order, every unfired mutation whose page count has been reached.
func (m *mutator) beforePage(inv *Inventory, log *slog.Logger) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.states {
		s := &m.states[i]
		if s.Fired || m.served < s.AfterPages {
			continue
		}
		s.Fired = true
		if err := s.apply(inv); err != nil {
			s.Error = err.Error()
		}
		log.Info("inventory mutated between pages", slog.Int("after_pages", s.AfterPages),
			slog.Int("removed", len(s.Remove)), slog.Int("added", len(s.Add)), slog.String("error", s.Error))
	}
}

// pageServed counts one page served by the listing.
func (m *mutator) pageServed() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.served++
}

// apply removes then adds; every change that can be made is made.
func (m Mutation) apply(inv *Inventory) error {
	var errs []error
	for _, iccid := range m.Remove {
		errs = append(errs, inv.Remove(iccid))
	}
	if len(m.Add) > 0 {
		errs = append(errs, inv.Add(m.Add...))
	}
	return errors.Join(errs...)
}
