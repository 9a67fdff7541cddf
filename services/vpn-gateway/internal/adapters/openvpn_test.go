package adapters_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simbridge/simbridge/services/vpn-gateway/internal/adapters"
	"github.com/simbridge/simbridge/services/vpn-gateway/internal/app"
)

// fakeOpenVPN writes a stand-in for openvpn: it records how it was started
// and the modes of the files it got, then (mode "up") gives the tun device
// named by --dev an address and waits, (mode "exit") fails at once, or
// (mode "noaddr") waits without an address. Real OpenVPN is exercised by the
// end-to-end tunnel test; these drive the adapter (files, process, tun
// address) under the real supervisor through its failure paths.
func fakeOpenVPN(t *testing.T, mode, ip string) (bin, dev, record string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the tunnel tests create tun devices: run them as root (CI does)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("the tunnel tests need iproute2: tools/scripts/ensure-openvpn.sh installs it")
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	dev = "sbf" + hex.EncodeToString(b)
	dir := t.TempDir()
	record = filepath.Join(dir, "record")
	script := fmt.Sprintf(`#!/bin/bash
dev=""; conf=""; auth=""
while [ $# -gt 0 ]; do case "$1" in --dev) dev=$2; shift;; --config) conf=$2; shift;; --auth-user-pass) auth=$2; shift;; esac; shift; done
{ echo "pid=$$"; echo "dir=$(stat -c %%a "$(dirname "$conf")")"; echo "conf=$(stat -c %%a "$conf")"; echo "content=$(head -c 20 "$conf")"
  [ -n "$auth" ] && echo "auth=$(stat -c %%a "$auth")" && echo "authdir=$(dirname "$auth")"; } >> %[1]q
case %[2]q in
exit) exit 3;;
up) ip tuntap add dev "$dev" mode tun 2>/dev/null; ip addr add %[3]s/32 dev "$dev" 2>/dev/null;;
esac
exec sleep 3600
`, record, mode, ip)
	bin = filepath.Join(dir, "openvpn")
	if err := os.WriteFile(bin, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", dev).Run() })
	return bin, dev, record
}

// tunnelEvents collects what the supervisor reports.
type tunnelEvents struct {
	mu       sync.Mutex
	downs    []string
	restarts int
	sessions []netip.Addr
}

func (e *tunnelEvents) hooks() app.Hooks {
	return app.Hooks{
		Down:    func(err error, _ time.Duration) { e.mu.Lock(); e.downs = append(e.downs, err.Error()); e.mu.Unlock() },
		Restart: func() { e.mu.Lock(); e.restarts++; e.mu.Unlock() },
	}
}

func (e *tunnelEvents) session(ctx context.Context, ip netip.Addr) error {
	e.mu.Lock()
	e.sessions = append(e.sessions, ip)
	e.mu.Unlock()
	<-ctx.Done()
	return nil
}

func (e *tunnelEvents) wait(t *testing.T, what string, ok func(e *tunnelEvents) bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		e.mu.Lock()
		done := ok(e)
		e.mu.Unlock()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 15s (downs %v, restarts %d, sessions %v)", what, e.downs, e.restarts, e.sessions)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func run(t *testing.T, o adapters.OpenVPNOptions, upTimeout time.Duration, e *tunnelEvents) {
	t.Helper()
	o.Logger, o.UpTimeout = slog.New(slog.DiscardHandler), upTimeout
	tun, err := adapters.NewOpenVPN(o)
	if err != nil {
		t.Fatal(err)
	}
	sup, err := app.NewSupervisor(tun, 200*time.Millisecond, e.hooks())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx, e.session) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func TestSupervisorRestartsOpenVPN(t *testing.T) {
	t.Parallel()
	bin, dev, record := fakeOpenVPN(t, "up", "10.203.7.2")
	e := &tunnelEvents{}
	run(t, adapters.OpenVPNOptions{Binary: bin, Device: dev, Config: []byte("client\nremote x\n"), Auth: []byte("user\npass\n")}, 10*time.Second, e)
	e.wait(t, "session on the tunnel address", func(e *tunnelEvents) bool { return len(e.sessions) == 1 })
	if e.sessions[0] != netip.MustParseAddr("10.203.7.2") {
		t.Fatalf("session on %v", e.sessions[0])
	}

	rec := readRecord(t, record)
	for _, want := range []string{"dir=700", "conf=600", "auth=600", "content=client"} {
		if !strings.Contains(rec, want) {
			t.Errorf("record lacks %s:\n%s", want, rec)
		}
	}
	pid, _ := strconv.Atoi(field(rec, "pid"))
	p, _ := os.FindProcess(pid)
	_ = p.Kill()
	e.wait(t, "restart after openvpn died", func(e *tunnelEvents) bool { return len(e.sessions) == 2 && e.restarts == 1 })
	if len(e.downs) != 1 || !strings.Contains(e.downs[0], "openvpn exited") {
		t.Fatalf("downs %v", e.downs)
	}
	if _, err := os.Stat(field(rec, "authdir")); !os.IsNotExist(err) {
		t.Errorf("credentials left behind after openvpn exited: %v", err)
	}
}

func TestSupervisorReportsTunnelsThatNeverComeUp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, mode, want string
	}{
		{"openvpn exits at once", "exit", "exited before the tunnel was up"},
		{"no address in time", "noaddr", "not up within"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bin, dev, _ := fakeOpenVPN(t, tc.mode, "")
			e := &tunnelEvents{}
			run(t, adapters.OpenVPNOptions{Binary: bin, Device: dev, Config: []byte("client\n")}, 300*time.Millisecond, e)
			e.wait(t, "two failed attempts", func(e *tunnelEvents) bool { return len(e.downs) >= 2 && e.restarts >= 1 })
			if len(e.sessions) != 0 || !strings.Contains(e.downs[0], tc.want) {
				t.Fatalf("sessions %v, downs %v; want %q", e.sessions, e.downs, tc.want)
			}
		})
	}
}

func readRecord(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func field(rec, key string) string {
	for _, l := range strings.Split(rec, "\n") {
		if v, ok := strings.CutPrefix(l, key+"="); ok {
			return v
		}
	}
	return ""
}
