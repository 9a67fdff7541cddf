package app

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Tunnel brings up the VPN client devices reach the gateway through
// (adapters.OpenVPN in production).
type Tunnel interface {
	// Open starts the client and returns once the tunnel has an address,
	// or why it could not come up.
	Open(ctx context.Context) (Link, error)
}

// Link is one tunnel that came up.
type Link interface {
	// Addr is the tunnel address devices reach the gateway on.
	Addr() netip.Addr
	// Wait returns why the tunnel ended by itself (the client exited, the
	// address went away), or ctx's error once ctx ends.
	Wait(ctx context.Context) error
	// Close stops the client and waits for it.
	Close()
}

// Session serves devices on the tunnel address until ctx ends; an error
// ends the tunnel (and restarts it).
type Session func(ctx context.Context, ip netip.Addr) error

// Hooks hear the tunnel's state, so readiness, metrics and notifications
// can follow it.
type Hooks struct {
	// Down is called when the tunnel could not come up or went down; retryIn
	// is the wait before the next attempt.
	Down func(err error, retryIn time.Duration)
	// Restart is called before each attempt after the first.
	Restart func()
}

// Supervisor keeps the tunnel up and a Session on its address: whatever
// ends a tunnel (the client exiting, its address going, the session
// failing) restarts it after a backoff that grows while restarts keep
// failing and starts again from its shortest wait once a tunnel stayed up.
type Supervisor struct {
	tunnel  Tunnel
	backoff *backoff.ExponentialBackOff
	hooks   Hooks
}

// stableAfter is how long a tunnel must have stayed up for the backoff to
// start again from its shortest wait.
const stableAfter = time.Minute

// NewSupervisor returns a supervisor that waits between maxBackoff/60 (at
// least 100 ms) and maxBackoff between restarts.
func NewSupervisor(t Tunnel, maxBackoff time.Duration, hooks Hooks) (*Supervisor, error) {
	if t == nil || maxBackoff <= 0 {
		return nil, errors.New("tunnel supervisor: a tunnel and a positive maximum backoff are required")
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = max(maxBackoff/60, 100*time.Millisecond)
	b.MaxInterval = maxBackoff
	return &Supervisor{tunnel: t, backoff: b, hooks: hooks}, nil
}

// Run keeps the tunnel and session up until ctx ends, then closes the tunnel.
func (s *Supervisor) Run(ctx context.Context, session Session) error {
	for attempt := 0; ; attempt++ {
		if attempt > 0 && s.hooks.Restart != nil {
			s.hooks.Restart()
		}
		started := time.Now()
		err := s.once(ctx, session)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(started) > stableAfter {
			s.backoff.Reset()
		}
		wait := s.backoff.NextBackOff()
		if s.hooks.Down != nil {
			s.hooks.Down(err, wait)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// once brings the tunnel up and runs the session on it until the tunnel or
// the session ends, and returns why.
func (s *Supervisor) once(ctx context.Context, session Session) error {
	link, err := s.tunnel.Open(ctx)
	if err != nil {
		return err
	}
	defer link.Close()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ended := make(chan error, 2)
	go func() { ended <- session(sctx, link.Addr()) }()
	go func() { ended <- link.Wait(sctx) }()
	err = <-ended
	// The first cause is the one reported; the other only has to finish.
	cancel()
	<-ended
	return err
}
