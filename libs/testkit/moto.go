// Package testkit gives integration and end-to-end tests real dependencies:
// a moto server (the AWS emulator), AWS clients pointed at it and unique
// resource names, so every test owns its own tables, queues and topics.
// It is also used by the local runner (tools/devstack), so the way moto is
// found and started is the same for `make run` and `make test`.
package testkit

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// ErrMotoMissing explains how to get the emulator; tests fail (never skip)
// with it.
var ErrMotoMissing = errors.New("moto_server not found and no Docker engine reachable: run `make deps` (installs " +
	"moto[server] into .venv with pip), or `pip install 'moto[server]'`, or set MOTO_SERVER to its path, " +
	"or MOTO_ENDPOINT to a running server, or start Docker")

// Moto is a moto server process.
type Moto struct {
	// Endpoint is the base URL for AWS_ENDPOINT_URL.
	Endpoint string
	cmd      *exec.Cmd
	dir      string
	done     chan error
}

// FindMotoServer returns the moto_server executable: $MOTO_SERVER, then PATH,
// then .venv/bin/moto_server at the repository root (where `make deps` puts it).
func FindMotoServer() (string, error) {
	if p := os.Getenv("MOTO_SERVER"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("moto_server"); err == nil {
		return p, nil
	}
	if root, err := RepoRoot(); err == nil {
		p := filepath.Join(root, ".venv", "bin", "moto_server")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", ErrMotoMissing
}

// RepoRoot finds the directory holding go.work, walking up from the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.work not found above the working directory")
		}
		dir = parent
	}
}

// StartMoto starts moto_server on a free loopback port, waits until it
// answers and configures it to compute IoT certificate ids as AWS does.
// Its output goes to logw.
func StartMoto(ctx context.Context, logw io.Writer) (*Moto, error) {
	bin, err := FindMotoServer()
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	cmd := motoCommand(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.Stdout, cmd.Stderr = logw, logw
	// moto writes files (its request recording) to its working directory:
	// give every server its own.
	dir, err := os.MkdirTemp("", "moto-")
	if err != nil {
		return nil, err
	}
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	m := &Moto{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, dir: dir, done: make(chan error, 1)}
	go func() { m.done <- cmd.Wait() }()
	if err := m.waitReady(ctx, 30*time.Second); err != nil {
		_ = m.Stop()
		return nil, err
	}
	return m, nil
}

// motoLauncher starts moto's server patched where it departs from AWS in
// ways simbridge relies on: IoT certificate ids computed from the DER (moto
// hashes the PEM text), KMS Sign honouring MessageType=DIGEST, REVOKED
// certificates never reactivated, and certificates registered with a CA
// checked against it. moto's HTTP config API can change none of these.
//
//go:embed motolauncher.py
var motoLauncher string

// MotoLauncher is the launcher script (python3 -c MotoLauncher …), for the
// container emulator (cmd/emulator), which runs it in the moto image.
func MotoLauncher() string { return motoLauncher }

// motoCommand runs moto_server through the Python interpreter installed next
// to it (a virtualenv's bin, pyenv's shims, /usr/bin), falling back to the
// executable itself.
func motoCommand(bin string, args ...string) *exec.Cmd {
	py := filepath.Join(filepath.Dir(bin), "python3")
	if _, err := os.Stat(py); err != nil {
		return exec.Command(bin, args...)
	}
	return exec.Command(py, append([]string{"-c", motoLauncher}, args...)...)
}

func (m *Moto) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case err := <-m.done:
			return fmt.Errorf("moto_server exited before it was ready: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := http.Get(m.Endpoint + "/moto-api/config")
		if err == nil {
			resp.Body.Close()
			return nil
		}
	}
	return fmt.Errorf("moto_server at %s not ready after %v", m.Endpoint, limit)
}

// Stop terminates the server, waits for it and removes its directory.
func (m *Moto) Stop() error {
	if m == nil || m.cmd.Process == nil {
		return nil
	}
	defer os.RemoveAll(m.dir)
	_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
		<-m.done
	}
	return nil
}

// FreePort asks the kernel for an unused loopback TCP port.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
