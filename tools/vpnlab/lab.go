// Package vpnlab runs a real OpenVPN server on this machine for tests and
// demos: a network namespace of its own, joined to the root namespace by a
// veth pair, a throwaway PKI, and a client configuration for vpn-gateway's
// supervisor. Inside the namespace, the server's tunnel address plays a
// device in 1NCE's network: its requests reach the gateway through the tunnel.
//
// It needs root, iproute2 and Debian's openvpn (tools/scripts/ensure-openvpn.sh).
package vpnlab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// ErrMissing explains how to get what the lab needs; tests fail with it.
var ErrMissing = errors.New("the OpenVPN lab needs root, iproute2 (`ip`) and openvpn: run tools/scripts/ensure-openvpn.sh (apt-get install openvpn iproute2)")

// Lab is a running OpenVPN server in its own namespace.
type Lab struct {
	// Namespace is the server's network namespace.
	Namespace string
	// DeviceIP is the server's tunnel address, the "device" in the namespace.
	DeviceIP string
	// GatewayIP is the address the client (vpn-gateway) gets on its tun.
	GatewayIP string
	// ClientConfig is a client configuration with inline certificates.
	ClientConfig string
	// LogPath is the server's log.
	LogPath string
	veth    string
	cmd     *exec.Cmd
	done    chan error
}

// Check reports whether the lab can run here.
func Check() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w (not root)", ErrMissing)
	}
	for _, bin := range []string{"ip", "openvpn"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%w (%s not found)", ErrMissing, bin)
		}
	}
	return nil
}

// Start creates the namespace and veth pair and starts the server; dir
// receives its files and log. Stop undoes everything.
func Start(ctx context.Context, dir string) (_ *Lab, err error) {
	if err := Check(); err != nil {
		return nil, err
	}
	id, subnet, err := randomNames()
	if err != nil {
		return nil, err
	}
	l := &Lab{Namespace: "vpnlab-" + id, veth: "vl" + id, LogPath: filepath.Join(dir, "openvpn-server.log"),
		DeviceIP: fmt.Sprintf("10.201.%d.1", subnet), GatewayIP: fmt.Sprintf("10.201.%d.2", subnet)}
	defer func() {
		if err != nil {
			l.Stop()
		}
	}()
	outer, inner := fmt.Sprintf("10.202.%d.1", subnet), fmt.Sprintf("10.202.%d.2", subnet)
	if err := l.network(ctx, outer, inner); err != nil {
		return nil, err
	}
	p, err := newPKI()
	if err != nil {
		return nil, err
	}
	if err := l.startServer(dir, p, subnet, inner); err != nil {
		return nil, err
	}
	l.ClientConfig = clientConfig(p, inner)
	return l, nil
}

func randomNames() (string, int64, error) {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		return "", 0, err
	}
	n, err := rand.Int(rand.Reader, big.NewInt(250))
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(b), n.Int64() + 1, nil
}

// network makes the namespace and a veth pair: outer in the root namespace,
// inner (where the server listens) in the lab's.
func (l *Lab) network(ctx context.Context, outer, inner string) error {
	peer := l.veth + "p"
	steps := [][]string{
		{"netns", "add", l.Namespace},
		{"link", "add", l.veth, "type", "veth", "peer", "name", peer},
		{"link", "set", peer, "netns", l.Namespace},
		{"addr", "add", outer + "/30", "dev", l.veth},
		{"link", "set", l.veth, "up"},
		{"-n", l.Namespace, "addr", "add", inner + "/30", "dev", peer},
		{"-n", l.Namespace, "link", "set", peer, "up"},
		{"-n", l.Namespace, "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if out, err := exec.CommandContext(ctx, "ip", s...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %w: %s", strings.Join(s, " "), err, out)
		}
	}
	return nil
}

func (l *Lab) startServer(dir string, p *pki, subnet int64, listen string) error {
	files := map[string]string{"ca.pem": p.ca, "server.pem": p.serverCert, "server.key": p.serverKey}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			return err
		}
	}
	conf := fmt.Sprintf(`dev tun0
proto udp
local %s
port 1194
topology subnet
server 10.201.%d.0 255.255.255.0
dh none
ca %s
cert %s
key %s
keepalive 1 5
disable-dco
data-ciphers AES-256-GCM:AES-128-GCM
verb 3
`, listen, subnet, filepath.Join(dir, "ca.pem"), filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key"))
	confPath := filepath.Join(dir, "server.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return err
	}
	logf, err := os.Create(l.LogPath)
	if err != nil {
		return err
	}
	l.cmd = exec.Command("ip", "netns", "exec", l.Namespace, "openvpn", "--config", confPath)
	l.cmd.Stdout, l.cmd.Stderr = logf, logf
	l.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := l.cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start openvpn server: %w", err)
	}
	l.done = make(chan error, 1)
	go func() { l.done <- l.cmd.Wait(); logf.Close() }()
	return l.waitServer()
}

// waitServer returns once the server's tun has its address.
func (l *Lab) waitServer() error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-l.done:
			l.done <- err
			return fmt.Errorf("openvpn server exited: %v: %s", err, tail(l.LogPath))
		case <-time.After(100 * time.Millisecond):
		}
		out, _ := exec.Command("ip", "-n", l.Namespace, "-4", "addr", "show", "dev", "tun0").CombinedOutput()
		if strings.Contains(string(out), l.DeviceIP+"/") {
			return nil
		}
	}
	return fmt.Errorf("openvpn server not up: %s", tail(l.LogPath))
}

func clientConfig(p *pki, server string) string {
	return fmt.Sprintf(`client
dev tun
proto udp
remote %s 1194
nobind
connect-retry 1
disable-dco
data-ciphers AES-256-GCM:AES-128-GCM
verb 3
<ca>
%s</ca>
<cert>
%s</cert>
<key>
%s</key>
`, server, p.ca, p.clientCert, p.clientKey)
}

// Command runs name with args inside the lab's namespace, as the device.
func (l *Lab) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", l.Namespace, name}, args...)...)
}

// Stop ends the server and removes the namespace and veth pair.
func (l *Lab) Stop() {
	if l.cmd != nil && l.cmd.Process != nil {
		_ = l.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-l.done:
		case <-time.After(5 * time.Second):
			_ = l.cmd.Process.Kill()
			<-l.done
		}
	}
	_ = exec.Command("ip", "link", "del", l.veth).Run()
	_ = exec.Command("ip", "netns", "del", l.Namespace).Run()
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-15):], "\n")
}
