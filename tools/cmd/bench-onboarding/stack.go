package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/tools/awsstub"
	"github.com/simbridge/simbridge/tools/loadgen"
)

// benchKey is the API key of this throwaway stack.
const benchKey = "bench-api-key-not-a-secret"

// stack is onboarding-api on the stub, vpn-gateway and nginx in front of it.
type stack struct {
	ips        []string
	stub       *http.Server
	gatewayURL string
	nginxURL   string
	procs      []*exec.Cmd
	names      []string
}

// cpu is the CPU time of each started process group so far.
func (st *stack) cpu() []time.Duration {
	out := make([]time.Duration, len(st.procs))
	for i, c := range st.procs {
		out[i] = groupCPU(c.Process.Pid)
	}
	return out
}

// cpuPerRequest renders the CPU each process spent per request since before.
func (st *stack) cpuPerRequest(before []time.Duration, requests uint64) string {
	now := st.cpu()
	parts := make([]string, len(now))
	for i := range now {
		parts[i] = fmt.Sprintf("%s=%.0f", st.names[i], float64((now[i]-before[i]).Microseconds())/float64(max(requests, 1)))
	}
	return strings.Join(parts, " ")
}

func startStack(ctx context.Context, o options) (_ *stack, err error) {
	st := &stack{ips: loadgen.LoopbackIPs(o.devices)}
	defer func() {
		if err != nil {
			st.stop()
		}
	}()
	sims, err := fleetIdentities(st.ips)
	if err != nil {
		return nil, err
	}
	stubAddr, err := st.serveStub(sims)
	if err != nil {
		return nil, err
	}
	api, err := st.startService(ctx, o, "onboarding-api", "HTTP_ADDR", []string{"AWS_ENDPOINT_URL=http://" + stubAddr,
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=bench", "AWS_SECRET_ACCESS_KEY=bench", "AWS_EC2_METADATA_DISABLED=true",
		"SIM_TABLE=bench", "API_KEY_VALUE=" + benchKey, "IOT_ENDPOINT=bench-ats.iot.us-east-1.amazonaws.com"})
	if err != nil {
		return nil, err
	}
	gw, err := st.startService(ctx, o, "vpn-gateway", "LISTEN_ADDR", []string{"AWS_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true",
		"TUNNEL_MODE=none", "UPSTREAM_URL=http://" + api, "API_KEY_VALUE=" + benchKey,
		"RATE_LIMIT=" + o.gatewayRate, "RATE_BURST=" + o.gwBurst})
	if err != nil {
		return nil, err
	}
	st.gatewayURL = "http://" + gw + "/device-api/onboarding"
	ng, err := st.startNginx(ctx, o, api)
	if err != nil {
		return nil, err
	}
	st.nginxURL = "http://" + ng + "/device-api/onboarding"
	return st, nil
}

func (st *stack) serveStub(sims []awsstub.SIM) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	st.stub = &http.Server{Handler: awsstub.New(sims), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = st.stub.Serve(ln) }()
	return ln.Addr().String(), nil
}

// startService runs a service binary with its address setting on a free
// port and waits until its /readyz answers 200.
func (st *stack) startService(ctx context.Context, o options, name, addrVar string, env []string) (string, error) {
	addr, ops := freeAddr(), freeAddr()
	env = append(env, addrVar+"="+addr, "OPS_ADDR="+ops, "LOG_LEVEL=info", "PATH="+os.Getenv("PATH"))
	if err := st.start(o, name, filepath.Join(o.bin, name), nil, env); err != nil {
		return "", err
	}
	return addr, waitHTTP(ctx, "http://"+ops+"/readyz", name)
}

func (st *stack) start(o options, name, bin string, args, env []string) error {
	logf, err := os.Create(filepath.Join(o.logDir, name+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s (make build first, or -bin): %w", name, err)
	}
	st.procs = append(st.procs, cmd)
	st.names = append(st.names, name)
	return nil
}

// stop terminates every process this stack started, by process group.
func (st *stack) stop() {
	for _, c := range st.procs {
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		}
	}
	if st.stub != nil {
		_ = st.stub.Close()
	}
}

func freeAddr() string {
	port, _ := testkit.FreePort()
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// waitHTTP polls url until it answers 200.
func waitHTTP(ctx context.Context, url, name string) error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return errors.New(name + " did not become ready at " + url)
}
