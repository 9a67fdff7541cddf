package cli

// A service binary probes itself: `<binary> -healthcheck` GETs the /healthz
// of the instance running in the same container and exits 0 or 1. Container
// health checks (docker compose, ECS) use it because the images are
// distroless: there is no curl or wget.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/simbridge/simbridge/libs/config"
)

// HealthcheckFlag is the command-line argument that asks for a health check.
const HealthcheckFlag = "-healthcheck"

// ProbeTimeout bounds one probe; container runtimes kill slower checks anyway.
const ProbeTimeout = 3 * time.Second

// healthcheckRequested reports whether args (os.Args[1:]) ask for a health check.
func healthcheckRequested(args []string) bool {
	return len(args) == 1 && (args[0] == HealthcheckFlag || args[0] == "-"+HealthcheckFlag)
}

// probeSettings is the part of every service's configuration the probe needs.
type probeSettings struct {
	OpsAddr string `env:"OPS_ADDR, default=:9090"`
}

// healthcheckMain probes the /healthz of the ops listener configured by OPS_ADDR and
// returns the process exit code: 0 healthy, 1 not.
func healthcheckMain() int {
	ctx, cancel := context.WithTimeout(context.Background(), ProbeTimeout)
	defer cancel()
	var s probeSettings
	if err := config.Load(ctx, &s); err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 1
	}
	url, err := LoopbackURL(s.OpsAddr, "/healthz")
	if err == nil {
		err = Probe(ctx, url)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 1
	}
	return 0
}

// LoopbackURL is the loopback URL of path on a listener configured as addr
// (":9090", "0.0.0.0:9090", "[::]:9090"): the probe runs in the same network
// namespace, so whatever the listener binds, loopback reaches it.
func LoopbackURL(addr, path string) (string, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" || port == "0" {
		return "", fmt.Errorf("listen address %q: want host:port with a fixed port", addr)
	}
	return "http://" + net.JoinHostPort("127.0.0.1", port) + path, nil
}

// Probe GETs url and succeeds on a 2xx answer.
func Probe(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
