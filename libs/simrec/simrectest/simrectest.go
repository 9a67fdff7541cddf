// Package simrectest is what unit tests of the use cases that change SIM
// records share: a store (the in-memory one, whose contract suite also runs
// against DynamoDB) that fails chosen calls, and a clock that moves only
// when told to or when slept on, so claims expire without a test sleeping.
package simrectest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
)

// Store operations FailNext can make fail.
const (
	OpGet          = "Get"
	OpCreate       = "Create"
	OpUpdate       = "Update"
	OpClearFailure = "ClearFailure"
)

// Store is simstore.Memory with injected failures. Memory, used directly,
// changes records behind the use case's back (another command at work).
type Store struct {
	*simstore.Memory
	mu    sync.Mutex
	fail  map[string][]error
	calls map[string]int
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{Memory: simstore.NewMemory(), fail: map[string][]error{}, calls: map[string]int{}}
}

// FailNext makes the next calls of op (OpGet, …) return errs, one per call;
// a nil entry lets its call through, an error wrapped in AfterWrite is
// returned after the call took effect. After them, op works again.
func (s *Store) FailNext(op string, errs ...error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[op] = append(s.fail[op], errs...)
}

// Calls is how often op was called.
func (s *Store) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// AfterWrite marks a FailNext error as returned after the call took effect
// (DynamoDB wrote, its answer was lost).
type AfterWrite struct{ Err error }

func (a AfterWrite) Error() string { return a.Err.Error() + " (after the write took effect)" }
func (a AfterWrite) Unwrap() error { return a.Err }

// injected counts op and pops its next injected error: before must fail
// the call, after is returned once the call took effect.
func (s *Store) injected(op string) (before, after error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[op]++
	errs := s.fail[op]
	if len(errs) == 0 {
		return nil, nil
	}
	s.fail[op] = errs[1:]
	if errors.As(errs[0], new(AfterWrite)) {
		return nil, errs[0]
	}
	return errs[0], nil
}

// Record reads iccid's record past any injected failure; the test fails
// when there is none.
func (s *Store) Record(t testing.TB, iccid string) simrec.Record {
	t.Helper()
	rec, err := s.Memory.Get(context.Background(), iccid)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// Change writes a change to iccid's record past any injected failure, as
// another command or an operator does behind the use case's back.
func (s *Store) Change(t testing.TB, iccid string, change func(r *simrec.Record)) {
	t.Helper()
	rec := s.Record(t, iccid)
	change(&rec)
	if _, err := s.Memory.Update(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
}

// Get reads a record, or fails as injected.
func (s *Store) Get(ctx context.Context, iccid string) (simrec.Record, error) {
	return call(s, OpGet, func() (simrec.Record, error) { return s.Memory.Get(ctx, iccid) })
}

// Create creates a record, or fails as injected.
func (s *Store) Create(ctx context.Context, r simrec.Record) (simrec.Record, error) {
	return call(s, OpCreate, func() (simrec.Record, error) { return s.Memory.Create(ctx, r) })
}

// Update writes a record, or fails as injected.
func (s *Store) Update(ctx context.Context, r simrec.Record) (simrec.Record, error) {
	return call(s, OpUpdate, func() (simrec.Record, error) { return s.Memory.Update(ctx, r) })
}

// ClearFailure clears a command's failure, or fails as injected.
func (s *Store) ClearFailure(ctx context.Context, iccid, command string) error {
	_, err := call(s, OpClearFailure, func() (struct{}, error) { return struct{}{}, s.Memory.ClearFailure(ctx, iccid, command) })
	return err
}

func call[T any](s *Store, op string, do func() (T, error)) (T, error) {
	before, after := s.injected(op)
	if before != nil {
		var zero T
		return zero, before
	}
	out, err := do()
	if err == nil && after != nil {
		return out, after
	}
	return out, err
}

// Clock is a simrec.Clock that moves only by Advance and Sleep.
type Clock struct {
	mu  sync.Mutex
	now time.Time
	// OnSleep, when set, runs on every Sleep after the clock moved (e.g.
	// another command releasing its claim while this one waits).
	OnSleep func()
}

// NewClock returns a clock at a fixed instant.
func NewClock() *Clock { return &Clock{now: time.Unix(1_800_000_000, 0).UTC()} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Sleep moves the clock on by d at once, unless ctx has ended.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.Advance(d)
	if c.OnSleep != nil {
		c.OnSleep()
	}
	return nil
}
