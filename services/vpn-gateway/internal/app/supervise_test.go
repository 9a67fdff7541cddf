package app_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/simbridge/simbridge/services/vpn-gateway/internal/app"
)

var tunnelIP = netip.MustParseAddr("10.64.0.2")

// supervised records what the supervisor reports and runs sessions that
// last until ctx ends or fail with what is sent on fail.
type supervised struct {
	downs    recorded[string]
	restarts atomic.Int32
	sessions recorded[netip.Addr]
	fail     chan error
}

func newSupervised() *supervised { return &supervised{fail: make(chan error, 1)} }

func (s *supervised) hooks() app.Hooks {
	return app.Hooks{
		Down:    func(err error, _ time.Duration) { s.downs.add(err.Error()) },
		Restart: func() { s.restarts.Add(1) },
	}
}

func (s *supervised) session(ctx context.Context, ip netip.Addr) error {
	s.sessions.add(ip)
	select {
	case err := <-s.fail:
		return err
	case <-ctx.Done():
		return nil
	}
}

// count is what the supervisor reported so far.
func (s *supervised) count() (downs []string, restarts, sessions int) {
	return s.downs.all(), int(s.restarts.Load()), len(s.sessions.all())
}

func TestSupervisorRestartsWhateverEndsTheTunnel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		end  func(l *fakeLink, s *supervised)
		want string
	}{
		{"the client exits", func(l *fakeLink, _ *supervised) { l.drop(errors.New("openvpn exited: signal: killed")) }, "openvpn exited"},
		{"the address goes away", func(l *fakeLink, _ *supervised) { l.drop(errors.New("tunnel address 10.64.0.2 gone")) }, "gone"},
		{"the session fails", func(_ *fakeLink, s *supervised) { s.fail <- errors.New("listen tcp: address already in use") }, "address already in use"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tun, s := &fakeTunnel{ip: tunnelIP}, newSupervised()
			sup, err := app.NewSupervisor(tun, 200*time.Millisecond, s.hooks())
			if err != nil {
				t.Fatal(err)
			}
			runInBackground(t, func(ctx context.Context) error { return sup.Run(ctx, s.session) })
			first := tun.link(t, 0)
			eventually(t, "first session", func() bool { _, _, n := s.count(); return n == 1 })
			tc.end(first, s)
			tun.link(t, 1)
			eventually(t, "second session", func() bool { _, _, n := s.count(); return n == 2 })
			downs, restarts, _ := s.count()
			if len(downs) != 1 || !strings.Contains(downs[0], tc.want) || restarts != 1 {
				t.Fatalf("downs %v, restarts %d; want one down saying %q and one restart", downs, restarts, tc.want)
			}
			if !first.isClosed() {
				t.Fatal("the ended tunnel was not closed")
			}
			if ips := s.sessions.all(); ips[1] != tunnelIP {
				t.Fatalf("second session on %v", ips[1])
			}
		})
	}
}

func TestSupervisorRetriesATunnelThatDoesNotComeUp(t *testing.T) {
	t.Parallel()
	notUp := errors.New("tunnel not up within 2m0s")
	tun, s := &fakeTunnel{ip: tunnelIP, failUp: map[int]error{0: notUp, 1: notUp}}, newSupervised()
	sup, err := app.NewSupervisor(tun, 200*time.Millisecond, s.hooks())
	if err != nil {
		t.Fatal(err)
	}
	runInBackground(t, func(ctx context.Context) error { return sup.Run(ctx, s.session) })
	tun.link(t, 0) // the third attempt
	eventually(t, "session once the tunnel is up", func() bool { _, _, n := s.count(); return n == 1 })
	downs, restarts, _ := s.count()
	if len(downs) != 2 || downs[0] != notUp.Error() || downs[1] != notUp.Error() || restarts != 2 {
		t.Fatalf("downs %v, restarts %d; want two downs and two restarts", downs, restarts)
	}
}

// TestSupervisorStopsWithItsContext: shutting down is not a tunnel failure.
func TestSupervisorStopsWithItsContext(t *testing.T) {
	t.Parallel()
	tun, s := &fakeTunnel{ip: tunnelIP}, newSupervised()
	sup, err := app.NewSupervisor(tun, time.Second, s.hooks())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx, s.session) }()
	link := tun.link(t, 0)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if downs, restarts, _ := s.count(); len(downs) != 0 || restarts != 0 || !link.isClosed() {
		t.Fatalf("downs %v, restarts %d, tunnel closed %v; want a quiet stop that closes the tunnel", downs, restarts, link.isClosed())
	}
}

func TestNewSupervisorRefusesWhatCannotWork(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		tunnel     app.Tunnel
		maxBackoff time.Duration
	}{
		{"no tunnel", nil, time.Second},
		{"no backoff", &fakeTunnel{}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := app.NewSupervisor(tc.tunnel, tc.maxBackoff, app.Hooks{}); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
