package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/simbridge/simbridge/libs/testkit"
)

// poller is one sim-poller process started from the built binary.
type poller struct {
	cmd      *exec.Cmd
	logPath  string
	syncURL  string
	readyURL string
	exited   chan struct{}
	waitErr  error
}

// summary is the part of POST /sync's answer (app.Summary) the benchmark reads.
type summary struct {
	DurationSeconds float64        `json:"duration_seconds"`
	Pages           int            `json:"pages"`
	Listed          int            `json:"listed"`
	Published       map[string]int `json:"published"`
	StoreActive     int            `json:"store_active"`
	StoreInactive   int            `json:"store_inactive"`
}

// startPoller runs bin/sim-poller against the simulator at api and the
// AWS resources env names, with no scheduled run, and waits until it is
// ready.
func startPoller(ctx context.Context, o options, logPath, api string, env []string) (*poller, error) {
	httpPort, err := testkit.FreePort()
	if err != nil {
		return nil, err
	}
	opsPort, err := testkit.FreePort()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(o.bin, "sim-poller"))
	cmd.Env = append(env, "PATH="+os.Getenv("PATH"), "LOG_LEVEL=info",
		fmt.Sprintf("HTTP_ADDR=127.0.0.1:%d", httpPort), fmt.Sprintf("OPS_ADDR=127.0.0.1:%d", opsPort),
		"ONCE_API_URL="+api, "ONCE_USERNAME="+benchUser, "ONCE_PASSWORD_VALUE="+benchPassword,
		"ONCE_RATE_LIMIT="+strconv.FormatFloat(o.rate, 'f', -1, 64), "ONCE_PAGE_SIZE="+strconv.Itoa(o.pageSize),
		"SYNC_ON_START=false", "SYNC_INTERVAL=24h", "SHUTDOWN_TIMEOUT=10s")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s (make build first, or -bin): %w", cmd.Path, err)
	}
	p := &poller{cmd: cmd, logPath: logPath, exited: make(chan struct{}),
		syncURL:  fmt.Sprintf("http://127.0.0.1:%d/sync", httpPort),
		readyURL: fmt.Sprintf("http://127.0.0.1:%d/readyz", opsPort)}
	go func() {
		p.waitErr = cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	if err := p.waitReady(ctx, 30*time.Second); err != nil {
		p.kill()
		return nil, err
	}
	return p, nil
}

// waitReady polls /readyz (the poller reached its queue and listens).
func (p *poller) waitReady(ctx context.Context, limit time.Duration) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(limit)
	for {
		if resp, err := http.Get(p.readyURL); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.exited:
			return fmt.Errorf("sim-poller exited during start (%v); see %s", p.waitErr, p.logPath)
		case <-deadline:
			return fmt.Errorf("sim-poller not ready within %v; see %s", limit, p.logPath)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// sync runs one reconciliation through POST /sync and returns its summary
// and how long the answer took; anything but 200 (a complete run that
// changed what it had to) is an error.
func (p *poller) sync(ctx context.Context) (summary, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.syncURL, nil)
	if err != nil {
		return summary{}, 0, err
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return summary{}, 0, fmt.Errorf("POST /sync: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	took := time.Since(start)
	if err != nil {
		return summary{}, 0, fmt.Errorf("POST /sync: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return summary{}, 0, fmt.Errorf("POST /sync answered %d: %s", resp.StatusCode, body)
	}
	var s summary
	if err := json.Unmarshal(body, &s); err != nil {
		return summary{}, 0, fmt.Errorf("POST /sync answered %q: %w", body, err)
	}
	return s, took, nil
}

// peakRSSMB is the poller's resident high-water mark since it started
// (VmHWM), read while it still runs. The child's rusage (wait4's
// ru_maxrss) would not do: Go starts children sharing the parent's memory
// until exec (vfork), and Linux carries that memory's high-water mark into
// the child's maximum, so it would count this benchmark and its simulator.
func (p *poller) peakRSSMB() (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("peak RSS: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024, err
		}
	}
	return 0, errors.New("peak RSS: no VmHWM in /proc/<pid>/status")
}

// stop sends SIGTERM and expects a clean exit within the shutdown timeout.
func (p *poller) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.waitErr != nil {
			return fmt.Errorf("sim-poller after SIGTERM: %w; see %s", p.waitErr, p.logPath)
		}
		return nil
	case <-time.After(15 * time.Second):
		p.kill()
		return fmt.Errorf("sim-poller did not stop within 15s of SIGTERM; see %s", p.logPath)
	}
}

// kill ends the process if it still runs.
func (p *poller) kill() {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}
