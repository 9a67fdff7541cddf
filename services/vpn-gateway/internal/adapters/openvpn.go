package adapters

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/simbridge/simbridge/services/vpn-gateway/internal/app"
)

// OpenVPNOptions say how to start the client.
type OpenVPNOptions struct {
	// Binary is the openvpn executable.
	Binary string
	// Config is the client configuration of the account's breakout region.
	Config []byte
	// Auth is "username\npassword" for auth-user-pass; empty when the
	// configuration authenticates by certificate only.
	Auth []byte
	// Device names the tun interface, so its address can be found.
	Device string
	// UpTimeout bounds the wait for the tun address after a start.
	UpTimeout time.Duration
	// Logger receives openvpn's own log lines.
	Logger *slog.Logger
}

// OpenVPN is the tunnel into 1NCE's network (app.Tunnel): Debian's openvpn
// run with the configuration and credentials from Secrets Manager, written
// to a private temporary directory that lives only as long as the process.
type OpenVPN struct {
	opts OpenVPNOptions
}

// NewOpenVPN checks the options; nothing starts before Open.
func NewOpenVPN(opts OpenVPNOptions) (*OpenVPN, error) {
	if opts.Binary == "" || opts.Device == "" || len(opts.Config) == 0 || opts.UpTimeout <= 0 {
		return nil, errors.New("openvpn: binary, device, configuration and up timeout are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &OpenVPN{opts: opts}, nil
}

// Open starts openvpn and returns once its tun interface has an IPv4
// address; openvpn exiting first, or no address within UpTimeout, is the
// error (openvpn is stopped then). The process ends with ctx.
func (o *OpenVPN) Open(ctx context.Context) (app.Link, error) {
	p, err := o.start(ctx)
	if err != nil {
		return nil, err
	}
	ip, err := waitForAddress(ctx, o.opts.Device, o.opts.UpTimeout, p)
	if err != nil {
		p.stop()
		return nil, err
	}
	return &openVPNLink{p: p, dev: o.opts.Device, ip: ip}, nil
}

// openVPNLink is one openvpn whose tunnel came up.
type openVPNLink struct {
	p   *process
	dev string
	ip  netip.Addr
}

// Addr is the tunnel address.
func (l *openVPNLink) Addr() netip.Addr { return l.ip }

// Wait returns when openvpn exits, the address goes away (openvpn
// reconnected elsewhere or tore the interface down) or ctx ends.
func (l *openVPNLink) Wait(ctx context.Context) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lost := make(chan error, 1)
	go func() { lost <- watchAddress(wctx, l.dev, l.ip) }()
	select {
	case <-l.p.done:
		return fmt.Errorf("openvpn exited: %w", l.p.exitErr())
	case err := <-lost:
		return err
	}
}

// Close stops openvpn and waits for it.
func (l *openVPNLink) Close() { l.p.stop() }

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
func (o *OpenVPN) start(ctx context.Context) (*process, error) {
	dir, err := os.MkdirTemp("", "vpn-gateway-openvpn-*")
	if err != nil {
		return nil, fmt.Errorf("openvpn temp dir: %w", err)
	}
	args, err := o.writeFiles(dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	cmd := exec.CommandContext(ctx, o.opts.Binary, args...)
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
		return nil, fmt.Errorf("start %s: %w", o.opts.Binary, err)
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
func (o *OpenVPN) writeFiles(dir string) ([]string, error) {
	conf := filepath.Join(dir, "client.conf")
	if err := os.WriteFile(conf, o.opts.Config, 0o600); err != nil {
		return nil, fmt.Errorf("write openvpn config: %w", err)
	}
	args := []string{"--config", conf, "--dev", o.opts.Device, "--dev-type", "tun", "--verb", "3"}
	if len(o.opts.Auth) > 0 {
		auth := filepath.Join(dir, "auth")
		if err := os.WriteFile(auth, o.opts.Auth, 0o600); err != nil {
			return nil, fmt.Errorf("write openvpn credentials: %w", err)
		}
		args = append(args, "--auth-user-pass", auth, "--auth-nocache")
	}
	return args, nil
}

// forwardLog passes openvpn's lines to the logger (openvpn never prints the
// password or keys it reads).
func (o *OpenVPN) forwardLog(r io.Reader) {
	s := bufio.NewScanner(r)
	for s.Scan() {
		o.opts.Logger.Info("openvpn", "line", s.Text())
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
