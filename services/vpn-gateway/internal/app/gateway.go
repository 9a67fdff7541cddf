// Package app holds vpn-gateway's use cases, one per file: keeping the
// tunnel into 1NCE's network up (supervise.go) and serving devices on it
// while telling readiness and operators where and whether they can reach
// the gateway (gateway.go). The device-facing proxy itself has no decisions
// beyond its guards and lives in ports.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Listener serves devices on host (the tunnel address) until ctx ends;
// listening is called once every listener is open, with the plain HTTP
// address.
type Listener interface {
	Serve(ctx context.Context, host string, listening func(plain string)) error
}

// Readiness is what the ops port's /readyz answers: devices can only reach
// the gateway while the tunnel is up.
type Readiness interface {
	SetReady()
	SetNotReady(reason string)
}

// EndpointPublisher tells device configuration tooling where devices reach
// the gateway (host:port/path).
type EndpointPublisher interface {
	Publish(ctx context.Context, endpoint string) error
}

// Notifier tells operators (SNS topics) that the gateway is up or needs
// them; the gateway has no SIM, so iccid is always empty.
type Notifier interface {
	Success(ctx context.Context, iccid, ip, msg string) error
	Failure(ctx context.Context, iccid, ip, msg string) error
}

// TunnelObserver hears the tunnel's state for the metrics the tunnel alarm
// watches.
type TunnelObserver interface {
	TunnelUp(up bool)
	TunnelRestarted()
}

// GatewayOptions are what the gateway tells about the tunnel, and whom.
type GatewayOptions struct {
	// Listener serves devices on the tunnel address.
	Listener Listener
	// Readiness follows the tunnel.
	Readiness Readiness
	// Endpoint receives the device-facing endpoint once the tunnel is up
	// (nil: not published).
	Endpoint EndpointPublisher
	// Notifier tells operators when the tunnel goes down and comes up.
	Notifier Notifier
	// Observer hears the tunnel's state (nil: nobody).
	Observer TunnelObserver
	// Path is the onboarding path announced after host:port.
	Path   string
	Logger *slog.Logger
}

// Gateway serves devices on the tunnel address while the tunnel is up. It
// is ready only then; once listening it publishes the endpoint (retrying
// while the tunnel lasts, devices are served meanwhile) and notifies
// success; each tunnel that ends, or does not come up, makes it not ready
// and is notified as a failure with the wait before the next attempt.
type Gateway struct {
	supervisor *Supervisor
	opts       GatewayOptions
}

// NewGateway returns a gateway on t, restarting it after at most maxBackoff.
func NewGateway(t Tunnel, maxBackoff time.Duration, opts GatewayOptions) (*Gateway, error) {
	if opts.Listener == nil || opts.Readiness == nil || opts.Notifier == nil {
		return nil, errors.New("gateway: a listener, readiness and a notifier are required")
	}
	if opts.Observer == nil {
		opts.Observer = noTunnelObserver{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{opts: opts}
	sup, err := NewSupervisor(t, maxBackoff, Hooks{Down: g.down, Restart: opts.Observer.TunnelRestarted})
	if err != nil {
		return nil, err
	}
	g.supervisor = sup
	return g, nil
}

// Run keeps the tunnel up and serves devices on it until ctx ends.
func (g *Gateway) Run(ctx context.Context) error {
	g.opts.Readiness.SetNotReady("tunnel starting")
	return g.supervisor.Run(ctx, g.session)
}

// session serves devices on the tunnel address while the tunnel is up.
func (g *Gateway) session(ctx context.Context, ip netip.Addr) error {
	return g.opts.Listener.Serve(ctx, ip.String(), func(plain string) {
		g.opts.Observer.TunnelUp(true)
		g.opts.Readiness.SetReady()
		endpoint := plain + g.opts.Path
		g.opts.Logger.Info("tunnel up", "ip", ip.String(), "endpoint", endpoint)
		go g.announce(ctx, ip.String(), endpoint)
	})
}

// down reports the tunnel's end: not ready, one log line, one failure
// notification.
func (g *Gateway) down(err error, retryIn time.Duration) {
	g.opts.Observer.TunnelUp(false)
	g.opts.Readiness.SetNotReady("tunnel down: " + err.Error())
	g.opts.Logger.Error("tunnel down", "error", err, "retry_in", retryIn.String())
	msg := fmt.Sprintf("Onboarding gateway tunnel down: %v; restarting openvpn in %v", err, retryIn.Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if nerr := g.opts.Notifier.Failure(ctx, "", "", msg); nerr != nil {
		g.opts.Logger.Error("failure notification not sent", "error", nerr)
	}
}

// announce publishes the endpoint, retrying with backoff while the tunnel
// lasts, then sends the success notification. A failed publication is
// notified once; devices are served meanwhile.
func (g *Gateway) announce(ctx context.Context, ip, endpoint string) {
	notified := false
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		if g.opts.Endpoint == nil {
			return struct{}{}, nil
		}
		err := g.opts.Endpoint.Publish(ctx, endpoint)
		if err != nil && !notified {
			notified = true
			g.opts.Logger.Error("endpoint not published; retrying", "error", err)
			_ = g.opts.Notifier.Failure(ctx, "", ip, "Onboarding gateway endpoint publication failed: "+err.Error())
		}
		return struct{}{}, err
	}, backoff.WithBackOff(backoff.NewExponentialBackOff()), backoff.WithMaxElapsedTime(0))
	if err != nil {
		return // the tunnel ended first
	}
	if err := g.opts.Notifier.Success(ctx, "", ip, "Onboarding gateway up at "+endpoint); err != nil {
		g.opts.Logger.Error("success notification not sent", "error", err)
	}
}

// noTunnelObserver is the observer when nobody listens.
type noTunnelObserver struct{}

func (noTunnelObserver) TunnelUp(bool)    {}
func (noTunnelObserver) TunnelRestarted() {}
