package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/testkit/oncesim"
)

// Credentials of the simulated account.
const (
	benchUser     = "bench@example.com"
	benchPassword = "bench-password"
)

// measurement is one size's figures.
type measurement struct {
	store     string
	sims      int
	seconds   float64
	peakRSSMB float64
	published int
	pages     int
}

func (m measurement) String() string {
	return fmt.Sprintf("store=%s sims=%d seconds=%.2f peak_rss_mb=%.1f published=%d pages=%d",
		m.store, m.sims, m.seconds, m.peakRSSMB, m.published, m.pages)
}

// runParent measures every size and prints one line each, the headline last.
func runParent(ctx context.Context, args []string, out io.Writer) error {
	f, err := parseParentFlags(args)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "bench-sync-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintf(out, "# one unchanged reconciliation per line; client rate %.0f req/s, %d SIMs per page; the poller runs in a child process\n", f.rate, f.pageSize)
	if len(f.motoSizes) > 0 {
		if err := benchMoto(ctx, f, dir, out); err != nil {
			return err
		}
	}
	var last measurement
	for _, n := range f.sizes {
		sims, err := oncesim.Generate(n, iccidPrefix, ipPattern, 1)
		if err != nil {
			return err
		}
		if last, err = measure(ctx, f, dir, sims, childStore{kind: "memory"}); err != nil {
			return err
		}
		fmt.Fprintln(out, last)
	}
	fmt.Fprintf(out, "sims=%d seconds=%.2f peak_rss_mb=%.1f published=%d\n", last.sims, last.seconds, last.peakRSSMB, last.published)
	return nil
}

// childStore says which store the child reconciles against.
type childStore struct {
	kind     string // memory or moto
	endpoint string // moto endpoint
	table    string
}

// Shape of the generated inventory: 19-digit ICCIDs, IPs 10.0.0.1 onwards.
const (
	iccidPrefix = "8988280666"
	ipPattern   = "10.x.x.x"
)

// measure serves sims from a simulator in this process and runs one sync in
// a child process against a store holding the same SIMs.
func measure(ctx context.Context, f parentFlags, dir string, sims []onceapi.SIM, store childStore) (measurement, error) {
	n := len(sims)
	api, stop, err := serveSimulator(sims)
	if err != nil {
		return measurement{}, err
	}
	defer stop()
	storeFile := filepath.Join(dir, "store-"+strconv.Itoa(n))
	if store.kind == "memory" {
		if err := writeStoreFile(storeFile, sims); err != nil {
			return measurement{}, err
		}
	}
	return runChildProcess(ctx, f, api, storeFile, store, n)
}

// serveSimulator serves sims without a rate limit on a loopback port.
func serveSimulator(sims []onceapi.SIM) (string, func(), error) {
	opts := oncesim.DefaultOptions(benchUser, benchPassword)
	opts.RateLimit, opts.SIMs = 0, sims
	srv, err := oncesim.New(opts)
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)}
	go func() { _ = hs.Serve(ln) }()
	return "http://" + ln.Addr().String() + srv.BasePath(), func() { _ = hs.Close() }, nil
}

// writeStoreFile writes "iccid ip" lines: the fields of a provisioned record
// the poller's store scan projects, for the child's in-memory store.
func writeStoreFile(path string, sims []onceapi.SIM) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, s := range sims {
		fmt.Fprintf(w, "%s %s\n", s.ICCID, s.IPAddress)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// runChildProcess runs the sync in a child and reads its result and peak RSS.
func runChildProcess(ctx context.Context, f parentFlags, api, storeFile string, store childStore, n int) (measurement, error) {
	self, err := os.Executable()
	if err != nil {
		return measurement{}, err
	}
	cmd := exec.CommandContext(ctx, self, childCommand, "-api", api, "-user", benchUser, "-rate", fmt.Sprint(f.rate),
		"-page-size", strconv.Itoa(f.pageSize), "-store", store.kind, "-store-file", storeFile,
		"-endpoint", store.endpoint, "-table", store.table)
	cmd.Env = append(os.Environ(), "BENCH_ONCE_PASSWORD="+benchPassword)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.Output()
	if err != nil {
		return measurement{}, fmt.Errorf("child for %d SIMs: %w", n, err)
	}
	var res childResult
	if err := json.Unmarshal(stdout, &res); err != nil {
		return measurement{}, fmt.Errorf("child for %d SIMs printed %q: %w", n, stdout, err)
	}
	if res.Error != "" {
		return measurement{}, fmt.Errorf("child for %d SIMs: sync failed: %s", n, res.Error)
	}
	if res.Listed != n || res.StoreSIMs != n {
		return measurement{}, fmt.Errorf("child for %d SIMs listed %d and read %d from the store", n, res.Listed, res.StoreSIMs)
	}
	return measurement{store: store.kind, sims: n, seconds: res.Seconds, peakRSSMB: float64(res.PeakRSSKB) / 1024,
		published: res.Published, pages: res.Pages}, nil
}

// parseSizes reads "1000,10000"; "" is no sizes.
func parseSizes(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(strings.ReplaceAll(part, "_", ""))
		if part == "" {
			continue
		}
		n, err := strconv.Atoi(part)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("size %q: want a positive count", part)
		}
		out = append(out, n)
	}
	return out, nil
}
