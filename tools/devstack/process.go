package devstack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Proc is one child process of the stack, its output in a log file.
type Proc struct {
	Name string
	// HTTPAddr and OpsAddr are the service's listeners (empty when it has none).
	HTTPAddr string
	OpsAddr  string
	LogPath  string
	// ReadyAfter is the time from exec to the first 200 on /readyz.
	ReadyAfter time.Duration
	cmd        *exec.Cmd
	done       chan struct{}
	exitErr    error
}

// startProc starts bin with env, output appended to logPath.
func startProc(name, bin string, args, env []string, logPath string, stdout io.Writer) (*Proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(baseEnv(), env...)
	cmd.Stderr = logf
	cmd.Stdout = logf
	if stdout != nil {
		cmd.Stdout = io.MultiWriter(logf, stdout)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.exitErr = cmd.Wait()
		logf.Close()
		if c, ok := stdout.(io.Closer); ok {
			_ = c.Close() // a reader waiting for the first line learns the process ended
		}
		close(p.done)
	}()
	return p, nil
}

// baseEnv passes only what a child needs from the parent, so a developer's
// AWS profile or endpoint can never leak into the local stack.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "PATH" || k == "HOME" || k == "TMPDIR" || k == "LANG" {
			env = append(env, kv)
		}
	}
	return env
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// ExitCode is the exit status once the process ended (-1 if killed by a signal).
func (p *Proc) ExitCode() int { return p.cmd.ProcessState.ExitCode() }

// Terminate sends SIGTERM and waits up to limit; after that it kills the
// process and reports that it did not stop in time.
func (p *Proc) Terminate(limit time.Duration) (time.Duration, error) {
	start := time.Now()
	if p.Exited() {
		return 0, fmt.Errorf("%s had already exited (code %d)", p.Name, p.ExitCode())
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(limit):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		return time.Since(start), fmt.Errorf("%s did not stop within %v after SIGTERM", p.Name, limit)
	}
	if code := p.ExitCode(); code != 0 {
		return time.Since(start), fmt.Errorf("%s exited with code %d after SIGTERM", p.Name, code)
	}
	return time.Since(start), nil
}

// waitReady polls the ops listener's /readyz until it answers 200.
func (p *Proc) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if p.Exited() {
			return fmt.Errorf("%s exited during start (code %d): %s", p.Name, p.ExitCode(), tail(p.LogPath, 5))
		}
		if ok, _ := httpOK(ctx, "http://"+p.OpsAddr+"/readyz"); ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready after %v: %s", p.Name, limit, tail(p.LogPath, 5))
}

func httpOK(ctx context.Context, url string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}

// tail returns the last n lines of a log file, for error messages.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// readLine waits for the first line a process prints, e.g. the address it listens on.
func readLine(r io.Reader, limit time.Duration) (string, error) {
	ch := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		if sc.Scan() {
			ch <- sc.Text()
		}
		close(ch)
		_, _ = io.Copy(io.Discard, r)
	}()
	select {
	case line, ok := <-ch:
		if !ok {
			return "", errors.New("process ended without output")
		}
		return line, nil
	case <-time.After(limit):
		return "", fmt.Errorf("no output within %v", limit)
	}
}

// Pid is the process id, for tests that look at the process's children
// (vpn-gateway's openvpn).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// RSSMB is the process's resident memory now (VmRSS), in MB; 0 if unknown.
func (p *Proc) RSSMB() float64 { return p.statusMB("VmRSS:") }

// PeakRSSMB is the process's resident high-water mark since it started
// (VmHWM), in MB; 0 if unknown. Read while the process runs: its rusage
// after exit would count the memory the parent shared with it before exec.
func (p *Proc) PeakRSSMB() float64 { return p.statusMB("VmHWM:") }

// statusMB reads a kB field of /proc/<pid>/status in MB.
func (p *Proc) statusMB(field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			var kb float64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%f kB", &kb); err == nil {
				return kb / 1024
			}
		}
	}
	return 0
}

// StartProcess runs bin as a process of the stack's kind (its log in
// logPath, killed with its parent), for benchmarks that add their own
// servers: the scale benchmark's dynalite.
func StartProcess(name, bin string, args, env []string, logPath string) (*Proc, error) {
	return startProc(name, bin, args, env, logPath, nil)
}
