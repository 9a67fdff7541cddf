package tunnel

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Session serves devices on the tunnel address until ctx ends; an error
// ends the tunnel (and restarts it).
type Session func(ctx context.Context, ip netip.Addr) error

// Hooks hear the tunnel's state, so the service can report readiness and
// send notifications.
type Hooks struct {
	// Down is called when the tunnel could not come up or went down; retryIn
	// is the wait before the next attempt.
	Down func(err error, retryIn time.Duration)
	// Restart is called before each attempt after the first.
	Restart func()
}

// Supervisor keeps openvpn running and a Session on its address.
type Supervisor struct {
	openvpn OpenVPN
	// UpTimeout bounds the wait for the tun address after a start.
	upTimeout time.Duration
	backoff   *backoff.ExponentialBackOff
	hooks     Hooks
}

// stableAfter is how long a tunnel must have stayed up for the backoff to
// start again from its shortest wait.
const stableAfter = time.Minute

// NewSupervisor returns a supervisor that waits at most upTimeout for the tun
// address and between maxBackoff/60 and maxBackoff between restarts.
func NewSupervisor(o OpenVPN, upTimeout, maxBackoff time.Duration, hooks Hooks) (*Supervisor, error) {
	if o.Binary == "" || o.Device == "" || len(o.Config) == 0 || upTimeout <= 0 || maxBackoff <= 0 {
		return nil, errors.New("tunnel: binary, device, configuration, up timeout and backoff are required")
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = max(maxBackoff/60, 100*time.Millisecond)
	b.MaxInterval = maxBackoff
	return &Supervisor{openvpn: o, upTimeout: upTimeout, backoff: b, hooks: hooks}, nil
}

// Run keeps the tunnel and session up until ctx ends, then stops openvpn.
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

// once runs openvpn until it exits, its address goes or the session fails,
// and returns why the tunnel ended.
func (s *Supervisor) once(ctx context.Context, session Session) error {
	p, err := s.openvpn.start(ctx)
	if err != nil {
		return err
	}
	defer p.stop()
	ip, err := waitForAddress(ctx, s.openvpn.Device, s.upTimeout, p)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ended := make(chan error, 2)
	go func() { ended <- session(sctx, ip) }()
	go func() { ended <- watchAddress(sctx, s.openvpn.Device, ip) }()
	running := 2
	select {
	case <-p.done:
		err = fmt.Errorf("openvpn exited: %w", p.exitErr())
	case err = <-ended:
		running--
	}
	// The first cause is the one reported; the rest only has to finish.
	cancel()
	for range running {
		<-ended
	}
	return err
}
