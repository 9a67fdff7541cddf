package app_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
	"github.com/simbridge/simbridge/services/sim-poller/internal/domain"
)

// iccid is the n-th test SIM's ICCID.
func iccid(n int) string { return fmt.Sprintf("89882806660000%05d", n) }

// ip is the n-th test SIM's IP.
func ip(n int) string { return fmt.Sprintf("10.1.%d.%d", n/250, n%250+1) }

// listed returns SIMs from..to-1 as 1NCE lists them, enabled.
func listed(from, to int) []domain.RemoteSIM {
	var out []domain.RemoteSIM
	for n := from; n < to; n++ {
		out = append(out, domain.RemoteSIM{ICCID: iccid(n), IP: ip(n), Status: domain.StatusEnabled})
	}
	return out
}

// stored returns SIMs from..to-1 as the store holds them, active at version 1.
func stored(from, to int) []simrec.Summary {
	var out []simrec.Summary
	for n := from; n < to; n++ {
		out = append(out, simrec.Summary{ICCID: iccid(n), IP: ip(n), Active: true, Status: domain.StatusEnabled, Version: 1})
	}
	return out
}

type fakeStore struct {
	sims []simrec.Summary
	err  error
}

func (s *fakeStore) Scan(_ context.Context, fn func(simrec.Summary) error) error {
	if s.err != nil {
		return s.err
	}
	for _, sum := range s.sims {
		if err := fn(sum); err != nil {
			return err
		}
	}
	return nil
}

// fakeInventory serves sims in pages of 100; err ends the listing after the
// first page, onPage runs after each page (to lose a lease mid-run), and
// hang makes the listing wait for its context to end.
// GetSIM answers with get, by default 404 (the SIM left the account), and
// records how many questions were asked and at most how many at once.
type fakeInventory struct {
	sims   []domain.RemoteSIM
	err    error
	onPage func(page int)
	// beforeList, when set, runs when the listing starts (after the scan).
	beforeList func()
	hang       bool
	get        func(ctx context.Context, iccid string) (domain.RemoteSIM, error)
	calls      int
	asked      []string
	inFlight   int
	maxAtOnce  int
	mu         sync.Mutex
}

func (f *fakeInventory) GetSIM(ctx context.Context, iccid string) (domain.RemoteSIM, error) {
	f.mu.Lock()
	f.asked = append(f.asked, iccid)
	f.inFlight++
	f.maxAtOnce = max(f.maxAtOnce, f.inFlight)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	if f.get != nil {
		return f.get(ctx, iccid)
	}
	return domain.RemoteSIM{}, fmt.Errorf("get SIM %s: %w", iccid, app.ErrSIMNotFound)
}

// questions returns how many SIMs were asked about.
func (f *fakeInventory) questions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.asked)
}

func (f *fakeInventory) ListSIMs(ctx context.Context, fn func([]domain.RemoteSIM) error) (int, error) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	if f.beforeList != nil {
		f.beforeList()
	}
	if f.hang {
		<-ctx.Done()
	}
	pages := 0
	for start := 0; start < len(f.sims) || start == 0; start += 100 {
		if err := ctx.Err(); err != nil {
			return pages, err
		}
		page := f.sims[start:min(start+100, len(f.sims))]
		pages++
		if err := fn(page); err != nil {
			return pages, err
		}
		if f.onPage != nil {
			f.onPage(pages)
		}
		if f.err != nil {
			return pages, f.err
		}
		if len(f.sims) == 0 {
			break
		}
	}
	return pages, nil
}

// fakePublisher keeps what it sent, fails the SIMs of failOn and calls
// onSend after each send.
type fakePublisher struct {
	mu     sync.Mutex
	sent   []events.SimCommand
	failOn map[string]bool
	onSend func()
	// onPublish, when set, sees each command sent (a consumer acting on it).
	onPublish func(events.SimCommand)
}

func (p *fakePublisher) Publish(_ context.Context, cmd events.SimCommand) error {
	p.mu.Lock()
	if p.failOn[cmd.ICCID] {
		p.mu.Unlock()
		return errors.New("sqs unavailable")
	}
	p.sent = append(p.sent, cmd)
	hook, consume := p.onSend, p.onPublish
	p.mu.Unlock()
	if hook != nil {
		hook()
	}
	if consume != nil {
		consume(cmd)
	}
	return nil
}

func (p *fakePublisher) count(kind events.Kind) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.sent {
		if c.Kind == kind {
			n++
		}
	}
	return n
}

type fakeNotifier struct {
	mu   sync.Mutex
	msgs []string
}

func (n *fakeNotifier) Failure(_ context.Context, iccid, ip, msg string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.msgs = append(n.msgs, msg)
	return nil
}

var errLeaseLost = errors.New("lease lost")

// errListingIncomplete is how the 1NCE adapter fails a listing that did not
// add up (onceapi.ErrIncomplete).
var errListingIncomplete = errors.New("SIM listing incomplete")

// fakeLease is held by another replica when held is set; lose cancels the
// running job as a failed renewal would.
type fakeLease struct {
	held bool
	mu   sync.Mutex
	lose context.CancelCauseFunc
}

func (l *fakeLease) Do(ctx context.Context, fn func(context.Context) error) error {
	if l.held {
		return fmt.Errorf("%w on another replica", app.ErrRunInProgress)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	l.mu.Lock()
	l.lose = cancel
	l.mu.Unlock()
	err := fn(ctx)
	if errors.Is(context.Cause(ctx), errLeaseLost) {
		return errors.Join(err, errLeaseLost)
	}
	return err
}

func (l *fakeLease) loseIt() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lose(errLeaseLost)
}

// fakeClock is a clock whose waits end at once: each moves its time on by
// the wait, so limits computed from Now pass as they would in real time,
// without taking any. Waited is the total of the waits.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	waited time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now, c.waited = c.now.Add(d), c.waited+d
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

// total is how long the use case waited.
func (c *fakeClock) total() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.waited
}

// world is one syncer with fakes around it.
type world struct {
	store    *fakeStore
	inv      *fakeInventory
	pub      *fakePublisher
	notifier *fakeNotifier
	lease    *fakeLease
	clock    *fakeClock
	syncer   *app.Syncer
}

func newWorld(store []simrec.Summary, sims []domain.RemoteSIM) *world {
	w := &world{store: &fakeStore{sims: store}, inv: &fakeInventory{sims: sims}, pub: &fakePublisher{},
		notifier: &fakeNotifier{}, lease: &fakeLease{}, clock: newFakeClock()}
	var err error
	w.syncer, err = app.NewSyncer(app.Deps{Store: w.store, Inventory: w.inv, Publisher: w.pub, Notifier: w.notifier,
		Lease: w.lease, Logger: slog.New(slog.DiscardHandler)}, app.Guard{MaxDisableShare: 0.1, DisableAllowance: 5}, 4)
	if err != nil {
		panic(err)
	}
	w.syncer.Clock = w.clock
	return w
}
