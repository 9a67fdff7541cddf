package adapters_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/simbridge/simbridge/services/vpn-gateway/internal/adapters"
	"github.com/simbridge/simbridge/services/vpn-gateway/internal/app"
)

// fakeOpenVPN writes a stand-in for openvpn: it records how it was started
// and the modes of the files it got, then (mode "up") gives the tun device
// named by --dev an address and waits, (mode "exit") fails at once, or
// (mode "noaddr") waits without an address. Real OpenVPN is exercised by the
// end-to-end tunnel test; these drive the adapter's files, process and tun
// address through their failure paths (restarting is app.Supervisor's,
// tested there with fakes).
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

// openVPN returns the adapter on a fake binary and device.
func openVPN(t *testing.T, bin, dev string, auth []byte, upTimeout time.Duration) *adapters.OpenVPN {
	t.Helper()
	o, err := adapters.NewOpenVPN(adapters.OpenVPNOptions{Binary: bin, Device: dev, Config: []byte("client\nremote x\n"),
		Auth: auth, UpTimeout: upTimeout, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// waitEnd waits (bounded) for the link to end by itself and returns why.
func waitEnd(t *testing.T, link app.Link) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err := link.Wait(ctx)
	if ctx.Err() != nil {
		t.Fatal("the tunnel did not end within 15s")
	}
	return err
}

// TestOpenVPNComesUpAndReportsItsExit: openvpn gets its configuration and
// credentials in files only it can read, the tunnel address is found, its
// exit ends the link and takes the credentials with it, and opening again
// (a restart) brings the tunnel back.
func TestOpenVPNComesUpAndReportsItsExit(t *testing.T) {
	t.Parallel()
	bin, dev, record := fakeOpenVPN(t, "up", "10.203.7.2")
	o := openVPN(t, bin, dev, []byte("user\npass\n"), 10*time.Second)
	link, err := o.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if link.Addr() != netip.MustParseAddr("10.203.7.2") {
		t.Fatalf("tunnel address %v", link.Addr())
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
	if err := waitEnd(t, link); err == nil || !strings.Contains(err.Error(), "openvpn exited") {
		t.Fatalf("link ended with %v, want openvpn's exit", err)
	}
	link.Close()
	if _, err := os.Stat(field(rec, "authdir")); !os.IsNotExist(err) {
		t.Errorf("credentials left behind after openvpn exited: %v", err)
	}

	again, err := o.Open(context.Background())
	if err != nil || again.Addr() != netip.MustParseAddr("10.203.7.2") {
		t.Fatalf("reopened: %v %v", again, err)
	}
	again.Close()
}

// TestOpenVPNLinkEndsWhenTheAddressGoes: openvpn may stay up while its tun
// address goes (a reconnect elsewhere); devices can no longer reach the
// gateway there, so the link ends.
func TestOpenVPNLinkEndsWhenTheAddressGoes(t *testing.T) {
	t.Parallel()
	bin, dev, _ := fakeOpenVPN(t, "up", "10.203.7.3")
	link, err := openVPN(t, bin, dev, nil, 10*time.Second).Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer link.Close()
	if out, err := exec.Command("ip", "addr", "del", "10.203.7.3/32", "dev", dev).CombinedOutput(); err != nil {
		t.Fatalf("ip addr del: %v %s", err, out)
	}
	if err := waitEnd(t, link); !errors.Is(err, adapters.ErrNoAddress) {
		t.Fatalf("link ended with %v, want the address gone", err)
	}
}

// TestOpenVPNThatNeverComesUp: a client that exits, or gets no address in
// time, is an error from Open, and no openvpn is left running.
func TestOpenVPNThatNeverComesUp(t *testing.T) {
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
			bin, dev, record := fakeOpenVPN(t, tc.mode, "")
			link, err := openVPN(t, bin, dev, nil, 300*time.Millisecond).Open(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v %v, want %q", link, err, tc.want)
			}
			pid, _ := strconv.Atoi(field(readRecord(t, record), "pid"))
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Fatalf("openvpn (pid %d) still there after Open failed: %v", pid, err)
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
