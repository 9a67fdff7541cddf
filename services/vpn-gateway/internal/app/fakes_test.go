package app_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/simbridge/simbridge/services/vpn-gateway/internal/app"
)

// fakeTunnel comes up on ip, except for the attempts failUp names (by
// number, from 0), which fail with that error.
type fakeTunnel struct {
	ip     netip.Addr
	failUp map[int]error

	mu    sync.Mutex
	opens int
	links []*fakeLink
}

func (f *fakeTunnel) Open(context.Context) (app.Link, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.opens
	f.opens++
	if err := f.failUp[n]; err != nil {
		return nil, err
	}
	l := &fakeLink{ip: f.ip, lost: make(chan error, 1), closed: make(chan struct{})}
	f.links = append(f.links, l)
	return l, nil
}

// link returns the n-th tunnel that came up, waiting for it.
func (f *fakeTunnel) link(t *testing.T, n int) *fakeLink {
	t.Helper()
	var l *fakeLink
	eventually(t, fmt.Sprintf("tunnel %d up", n), func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.links) > n {
			l = f.links[n]
		}
		return l != nil
	})
	return l
}

// fakeLink is one tunnel; drop ends it as a client exit would.
type fakeLink struct {
	ip     netip.Addr
	lost   chan error
	once   sync.Once
	closed chan struct{}
}

func (l *fakeLink) Addr() netip.Addr { return l.ip }

func (l *fakeLink) Wait(ctx context.Context) error {
	select {
	case err := <-l.lost:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *fakeLink) Close() { l.once.Do(func() { close(l.closed) }) }

func (l *fakeLink) drop(err error) { l.lost <- err }

func (l *fakeLink) isClosed() bool {
	select {
	case <-l.closed:
		return true
	default:
		return false
	}
}

// recorded is what a fake heard, appended to from the gateway's goroutines.
type recorded[T any] struct {
	mu    sync.Mutex
	items []T
}

func (r *recorded[T]) add(v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.items = append(r.items, v)
}

func (r *recorded[T]) all() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.items)
}

// fakeListener serves until ctx ends, on port 8080 of the host it is given.
type fakeListener struct{ hosts recorded[string] }

func (f *fakeListener) Serve(ctx context.Context, host string, listening func(plain string)) error {
	f.hosts.add(host)
	listening(host + ":8080")
	<-ctx.Done()
	return nil
}

// fakeReadiness records every change: "ready" or the not-ready reason.
type fakeReadiness struct{ recorded[string] }

func (f *fakeReadiness) SetReady() { f.add("ready") }

func (f *fakeReadiness) SetNotReady(reason string) { f.add(reason) }

// fakeParameter fails its first failures publications.
type fakeParameter struct {
	failures  int
	calls     atomic.Int32
	published recorded[string]
}

func (f *fakeParameter) Publish(_ context.Context, endpoint string) error {
	if n := f.calls.Add(1); int(n) <= f.failures {
		return fmt.Errorf("SSM unavailable (call %d)", n)
	}
	f.published.add(endpoint)
	return nil
}

// note is one notification: "success" or "failure", the IP and the message.
type note struct{ kind, iccid, ip, msg string }

type fakeNotifier struct{ recorded[note] }

func (f *fakeNotifier) Success(_ context.Context, iccid, ip, msg string) error {
	f.add(note{"success", iccid, ip, msg})
	return nil
}

func (f *fakeNotifier) Failure(_ context.Context, iccid, ip, msg string) error {
	f.add(note{"failure", iccid, ip, msg})
	return nil
}

// fakeObserver records the tunnel's state as the metrics would.
type fakeObserver struct {
	up       recorded[bool]
	restarts atomic.Int32
}

func (f *fakeObserver) TunnelUp(up bool) { f.up.add(up) }

func (f *fakeObserver) TunnelRestarted() { f.restarts.Add(1) }

// eventually fails the test when ok stays false for five seconds.
func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runInBackground runs run until the test ends and checks it returned nil.
func runInBackground(t *testing.T, run func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}
