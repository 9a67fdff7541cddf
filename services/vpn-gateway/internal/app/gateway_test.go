package app_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/simbridge/simbridge/services/vpn-gateway/internal/app"
)

const (
	announced = "10.64.0.2:8080/device-api/onboarding"
	upMessage = "Onboarding gateway up at " + announced
)

// gatewayFakes are everything a gateway tells about its tunnel.
type gatewayFakes struct {
	tunnel    *fakeTunnel
	listener  *fakeListener
	readiness *fakeReadiness
	parameter *fakeParameter
	notifier  *fakeNotifier
	observer  *fakeObserver
}

// startGateway runs a gateway on fakes until the test ends; parameter may
// be nil (no endpoint parameter configured).
func startGateway(t *testing.T, parameter *fakeParameter) *gatewayFakes {
	t.Helper()
	f := &gatewayFakes{tunnel: &fakeTunnel{ip: tunnelIP}, listener: &fakeListener{}, readiness: &fakeReadiness{},
		parameter: parameter, notifier: &fakeNotifier{}, observer: &fakeObserver{}}
	opts := app.GatewayOptions{Listener: f.listener, Readiness: f.readiness, Notifier: f.notifier, Observer: f.observer,
		Path: "/device-api/onboarding"}
	if parameter != nil {
		opts.Endpoint = parameter
	}
	g, err := app.NewGateway(f.tunnel, 200*time.Millisecond, opts)
	if err != nil {
		t.Fatal(err)
	}
	runInBackground(t, g.Run)
	return f
}

// successes waits for n success notifications and returns them.
func (f *gatewayFakes) successes(t *testing.T, n int) []note {
	t.Helper()
	var got []note
	eventually(t, "success notifications", func() bool {
		got = got[:0]
		for _, nt := range f.notifier.all() {
			if nt.kind == "success" {
				got = append(got, nt)
			}
		}
		return len(got) >= n
	})
	return got
}

// TestGatewayFollowsTheTunnel: devices are served on the tunnel address and
// the gateway is ready only while the tunnel is up; operators hear of every
// end (with the wait before the restart) and of every new start.
func TestGatewayFollowsTheTunnel(t *testing.T) {
	t.Parallel()
	f := startGateway(t, &fakeParameter{})
	if got := f.successes(t, 1)[0]; got != (note{"success", "", "10.64.0.2", upMessage}) {
		t.Fatalf("success notification %+v", got)
	}
	if got := f.readiness.all(); !slices.Equal(got, []string{"tunnel starting", "ready"}) {
		t.Fatalf("readiness %v, want not ready until the tunnel is up", got)
	}
	if hosts := f.listener.hosts.all(); hosts[0] != "10.64.0.2" {
		t.Fatalf("served on %q, want the tunnel address", hosts[0])
	}

	f.tunnel.link(t, 0).drop(errors.New("openvpn exited: signal: killed"))
	f.successes(t, 2)
	states := f.readiness.all()
	if len(states) != 4 || !strings.HasPrefix(states[2], "tunnel down: openvpn exited") || states[3] != "ready" {
		t.Fatalf("readiness %v, want not ready while the tunnel is down, then ready again", states)
	}
	var failures []note
	for _, nt := range f.notifier.all() {
		if nt.kind == "failure" {
			failures = append(failures, nt)
		}
	}
	if len(failures) != 1 || !strings.HasPrefix(failures[0].msg, "Onboarding gateway tunnel down: openvpn exited: signal: killed; restarting openvpn in ") ||
		failures[0].ip != "" || failures[0].iccid != "" {
		t.Fatalf("failure notifications %+v, want one saying the tunnel is down", failures)
	}
	if up, restarts := f.observer.up.all(), f.observer.restarts.Load(); !slices.Equal(up, []bool{true, false, true}) || restarts != 1 {
		t.Fatalf("observer heard up %v and %d restarts", up, restarts)
	}
	if got := f.parameter.published.all(); len(got) != 2 || got[0] != announced || got[1] != announced {
		t.Fatalf("endpoint published %v, want %s at each start", got, announced)
	}
}

// TestGatewayRetriesTheEndpointPublication: devices are served while the
// publication is retried, and operators hear of the failure once.
func TestGatewayRetriesTheEndpointPublication(t *testing.T) {
	t.Parallel()
	f := startGateway(t, &fakeParameter{failures: 2})
	if got := f.successes(t, 1)[0]; got.msg != upMessage {
		t.Fatalf("success notification %+v", got)
	}
	notes := f.notifier.all()
	if len(notes) != 2 || notes[0].kind != "failure" || notes[0].ip != "10.64.0.2" ||
		!strings.HasPrefix(notes[0].msg, "Onboarding gateway endpoint publication failed: SSM unavailable") {
		t.Fatalf("notifications %+v, want one failure, then the success", notes)
	}
	if n := f.parameter.calls.Load(); n != 3 || f.readiness.all()[1] != "ready" {
		t.Fatalf("%d publications, readiness %v; want 3, ready from the start", n, f.readiness.all())
	}
}

// TestGatewayWithoutEndpointParameter: nothing to publish, the success
// notification follows at once.
func TestGatewayWithoutEndpointParameter(t *testing.T) {
	t.Parallel()
	f := startGateway(t, nil)
	if got := f.successes(t, 1)[0]; got.msg != upMessage {
		t.Fatalf("success notification %+v", got)
	}
}

func TestNewGatewayRefusesWhatCannotWork(t *testing.T) {
	t.Parallel()
	full := app.GatewayOptions{Listener: &fakeListener{}, Readiness: &fakeReadiness{}, Notifier: &fakeNotifier{}}
	tests := []struct {
		name  string
		strip func(o *app.GatewayOptions)
	}{
		{"no listener", func(o *app.GatewayOptions) { o.Listener = nil }},
		{"no readiness", func(o *app.GatewayOptions) { o.Readiness = nil }},
		{"no notifier", func(o *app.GatewayOptions) { o.Notifier = nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := full
			tc.strip(&o)
			if _, err := app.NewGateway(&fakeTunnel{}, time.Second, o); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
