// Package tunnel keeps vpn-gateway's OpenVPN client into 1NCE's network up:
// it runs Debian's openvpn with the configuration and credentials from
// Secrets Manager (written to a private temporary directory), waits for the
// tun interface's address, runs the device-facing session on it, and restarts
// openvpn with backoff whenever it exits or the address goes away.
package tunnel

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// OpenVPN says how to start the client.
type OpenVPN struct {
	// Binary is the openvpn executable.
	Binary string
	// Config is the client configuration of the account's breakout region.
	Config []byte
	// Auth is "username\npassword" for auth-user-pass; empty when the
	// configuration authenticates by certificate only.
	Auth []byte
	// Device names the tun interface, so its address can be found.
	Device string
	// Logger receives openvpn's own log lines.
	Logger *slog.Logger
}

// process is one running openvpn; done is closed once it exited, with err.
type process struct {
	cmd  *exec.Cmd
	dir  string
	done chan struct{}
	err  error
}

// exitErr is why openvpn ended; valid once done is closed.
func (p *process) exitErr() error {
	if p.err == nil {
		return errors.New("exit status 0")
	}
	return p.err
}

// start writes the configuration and credentials to a fresh directory only
// this process can read, and starts openvpn on them.
func (o OpenVPN) start(ctx context.Context) (*process, error) {
	dir, err := os.MkdirTemp("", "vpn-gateway-openvpn-*")
	if err != nil {
		return nil, fmt.Errorf("openvpn temp dir: %w", err)
	}
	args, err := o.writeFiles(dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	cmd := exec.CommandContext(ctx, o.Binary, args...)
	cmd.Dir = dir
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	// openvpn must not outlive the gateway, whatever kills the gateway.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	// A pipe writer (not StdoutPipe) lets Wait return once openvpn exits,
	// even if a script it started still holds the output open.
	out, w := io.Pipe()
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", o.Binary, err)
	}
	go o.forwardLog(out)
	p := &process{cmd: cmd, dir: dir, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = w.Close()
		_ = os.RemoveAll(dir)
		close(p.done)
	}()
	return p, nil
}

// writeFiles stores the configuration and credentials with mode 0600 and
// returns openvpn's arguments. Options after --config override the file's,
// so the device name is always ours.
func (o OpenVPN) writeFiles(dir string) ([]string, error) {
	conf := filepath.Join(dir, "client.conf")
	if err := os.WriteFile(conf, o.Config, 0o600); err != nil {
		return nil, fmt.Errorf("write openvpn config: %w", err)
	}
	args := []string{"--config", conf, "--dev", o.Device, "--dev-type", "tun", "--verb", "3"}
	if len(o.Auth) > 0 {
		auth := filepath.Join(dir, "auth")
		if err := os.WriteFile(auth, o.Auth, 0o600); err != nil {
			return nil, fmt.Errorf("write openvpn credentials: %w", err)
		}
		args = append(args, "--auth-user-pass", auth, "--auth-nocache")
	}
	return args, nil
}

// forwardLog passes openvpn's lines to the logger (openvpn never prints the
// password or keys it reads).
func (o OpenVPN) forwardLog(r io.Reader) {
	s := bufio.NewScanner(r)
	for s.Scan() {
		o.Logger.Info("openvpn", "line", s.Text())
	}
	_, _ = io.Copy(io.Discard, r) // a line too long for the scanner: keep draining
}

// stop ends openvpn and waits for it.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}
