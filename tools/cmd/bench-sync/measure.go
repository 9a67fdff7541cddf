package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
	"github.com/simbridge/simbridge/libs/testkit/oncesim"
)

// Shape of the generated inventory: 19-digit ICCIDs, IPs 10.0.0.1 onwards,
// and the simulated account's credentials.
const (
	iccidPrefix   = "8988280666"
	ipPattern     = "10.x.x.x"
	benchUser     = "bench@example.com"
	benchPassword = "bench-password"
)

// result is one size's figures.
type result struct {
	sims int
	// seconds is POST /sync from request to answer; runSeconds the run's
	// own duration as its summary reports it (without the HTTP exchange).
	seconds    float64
	runSeconds float64
	peakRSSMB  float64
	published  int
	pages      int
	// seedSeconds is how long loading the table took (not measured).
	seedSeconds float64
}

func (r result) String() string {
	return fmt.Sprintf("sims=%d seconds=%.2f run_seconds=%.2f peak_rss_mb=%.1f published=%d pages=%d (table loaded in %.1fs)",
		r.sims, r.seconds, r.runSeconds, r.peakRSSMB, r.published, r.pages, r.seedSeconds)
}

// measure serves n SIMs from the simulator, loads the same n into a fresh
// moto's SIM table, and has a fresh poller reconcile them once.
func measure(ctx context.Context, o options, n int, out io.Writer) (result, error) {
	sims, err := oncesim.Generate(n, iccidPrefix, ipPattern, 1)
	if err != nil {
		return result{}, err
	}
	api, stopSimulator, err := serveSimulator(sims)
	if err != nil {
		return result{}, err
	}
	defer stopSimulator()
	motoLog, err := os.Create(filepath.Join(o.logDir, fmt.Sprintf("moto-%d.log", n)))
	if err != nil {
		return result{}, err
	}
	defer motoLog.Close()
	moto, err := testkit.StartMoto(ctx, motoLog)
	if err != nil {
		return result{}, fmt.Errorf("moto_server (make deps): %w", err)
	}
	defer moto.Stop()
	cfg, err := testkit.LoadAWSConfig(ctx, moto.Endpoint)
	if err != nil {
		return result{}, err
	}
	res, err := bootstrap.Ensure(ctx, cfg, bootstrap.Names{Prefix: "bench-sync"}, bootstrap.Options{})
	if err != nil {
		return result{}, fmt.Errorf("bootstrap: %w", err)
	}
	start := time.Now()
	if err := seed(ctx, dynamodb.NewFromConfig(cfg), res.Table(), sims); err != nil {
		return result{}, err
	}
	r := result{sims: n, seedSeconds: time.Since(start).Seconds()}
	env := append(testkit.Env(moto.Endpoint), res.Env()...)
	p, err := startPoller(ctx, o, filepath.Join(o.logDir, fmt.Sprintf("sim-poller-%d.log", n)), api, env)
	if err != nil {
		return result{}, err
	}
	defer p.kill()
	sum, took, err := p.sync(ctx)
	if err != nil {
		return result{}, err
	}
	if r.peakRSSMB, err = p.peakRSSMB(); err != nil {
		return result{}, err
	}
	if err := p.stop(); err != nil {
		return result{}, err
	}
	if sum.Listed != n || sum.StoreActive+sum.StoreInactive != n {
		return result{}, fmt.Errorf("the poller listed %d SIMs and read %d from the table", sum.Listed, sum.StoreActive+sum.StoreInactive)
	}
	r.seconds, r.runSeconds, r.pages = took.Seconds(), sum.DurationSeconds, sum.Pages
	for _, c := range sum.Published {
		r.published += c
	}
	return r, nil
}

// serveSimulator serves sims without a rate limit on a loopback port (in
// this process: the poller's memory is its own process's).
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
