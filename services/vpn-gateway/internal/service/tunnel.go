package service

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/simbridge/simbridge/libs/config"
	"github.com/simbridge/simbridge/libs/messaging"
	"github.com/simbridge/simbridge/libs/metrics"
	"github.com/simbridge/simbridge/libs/secrets"
	"github.com/simbridge/simbridge/services/vpn-gateway/internal/adapters"
	"github.com/simbridge/simbridge/services/vpn-gateway/internal/tunnel"
)

// tunnelRunner ties the supervisor to readiness, the endpoint parameter
// and notifications.
type tunnelRunner struct {
	cfg      Config
	servers  *servers
	probe    *metrics.Probe
	notifier *messaging.Notifier
	param    *adapters.EndpointParameter // nil: not published
	logger   *slog.Logger
	up       prometheus.Gauge
	restarts prometheus.Counter
}

func newTunnelMetrics(reg prometheus.Registerer) (prometheus.Gauge, prometheus.Counter) {
	up := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: metrics.Namespace, Subsystem: "vpn_gateway",
		Name: "tunnel_up", Help: "1 while the OpenVPN tunnel is up and devices are served on its address."})
	restarts := prometheus.NewCounter(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "vpn_gateway",
		Name: "tunnel_restarts_total", Help: "OpenVPN client restarts after an exit or a lost address."})
	reg.MustRegister(up, restarts)
	return up, restarts
}

// run reads the OpenVPN configuration and credentials and supervises the
// tunnel until ctx ends.
func (t *tunnelRunner) run(ctx context.Context, sm secrets.SecretsManager) error {
	conf, err := t.cfg.Tunnel.OpenVPNConfig.Resolve(ctx, sm)
	if err != nil {
		return fmt.Errorf("OpenVPN configuration: %w", err)
	}
	var auth config.Secret
	if optionalSet(t.cfg.Tunnel.OpenVPNAuth) {
		if auth, err = t.cfg.Tunnel.OpenVPNAuth.Resolve(ctx, sm); err != nil {
			return fmt.Errorf("OpenVPN credentials: %w", err)
		}
	}
	sup, err := tunnel.NewSupervisor(tunnel.OpenVPN{
		Binary: t.cfg.Tunnel.OpenVPNBinary, Config: []byte(conf.Reveal() + "\n"), Auth: authFile(auth),
		Device: t.cfg.Tunnel.Device, Logger: t.logger.With("component", "openvpn"),
	}, t.cfg.Tunnel.UpTimeout, t.cfg.Tunnel.MaxBackoff, tunnel.Hooks{Down: t.down, Restart: t.restarts.Inc})
	if err != nil {
		return err
	}
	t.probe.SetNotReady("tunnel starting")
	return sup.Run(ctx, t.session)
}

// authFile is openvpn's auth-user-pass file content.
func authFile(s config.Secret) []byte {
	if !s.IsSet() {
		return nil
	}
	return []byte(s.Reveal() + "\n")
}

// session serves devices on the tunnel address while the tunnel is up.
func (t *tunnelRunner) session(ctx context.Context, ip netip.Addr) error {
	return t.servers.serve(ctx, ip.String(), func(plain string) {
		t.up.Set(1)
		t.probe.SetReady()
		endpoint := plain + t.cfg.Paths[0]
		t.logger.Info("tunnel up", "ip", ip.String(), "endpoint", endpoint)
		go t.announce(ctx, ip.String(), endpoint)
	})
}

// down reports the tunnel's end: not ready, one log line, one failure
// notification.
func (t *tunnelRunner) down(err error, retryIn time.Duration) {
	t.up.Set(0)
	t.probe.SetNotReady("tunnel down: " + err.Error())
	t.logger.Error("tunnel down", "error", err, "retry_in", retryIn.String())
	msg := fmt.Sprintf("Onboarding gateway tunnel down: %v; restarting openvpn in %v", err, retryIn.Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if nerr := t.notifier.Failure(ctx, "", "", msg); nerr != nil {
		t.logger.Error("failure notification not sent", "error", nerr)
	}
}

// announce publishes the endpoint to SSM, retrying with backoff while the
// tunnel lasts, then sends the success notification. A failed publication
// is notified once; devices are served meanwhile.
func (t *tunnelRunner) announce(ctx context.Context, ip, endpoint string) {
	notified := false
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		if t.param == nil {
			return struct{}{}, nil
		}
		err := t.param.Publish(ctx, endpoint)
		if err != nil && !notified {
			notified = true
			t.logger.Error("endpoint not published; retrying", "error", err)
			_ = t.notifier.Failure(ctx, "", ip, "Onboarding gateway endpoint publication failed: "+err.Error())
		}
		return struct{}{}, err
	}, backoff.WithBackOff(backoff.NewExponentialBackOff()), backoff.WithMaxElapsedTime(0))
	if err != nil {
		return // the tunnel ended first
	}
	if err := t.notifier.Success(ctx, "", ip, "Onboarding gateway up at "+endpoint); err != nil {
		t.logger.Error("success notification not sent", "error", err)
	}
}
