package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/simbridge/simbridge/libs/config"
	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/services/sim-poller/internal/adapters"
	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
)

// childCommand is the first argument that makes the binary the measured child.
const childCommand = "child"

// childResult is what the child prints, one JSON object.
type childResult struct {
	Seconds   float64 `json:"seconds"`
	Listed    int     `json:"listed"`
	Pages     int     `json:"pages"`
	StoreSIMs int     `json:"store_sims"`
	Published int     `json:"published"`
	// PeakRSSKB is the child's own high-water mark of resident memory.
	PeakRSSKB int64  `json:"peak_rss_kb"`
	Error     string `json:"error,omitempty"`
}

type childFlags struct {
	api, user, store, storeFile, endpoint, table string
	rate                                         float64
	pageSize                                     int
}

// runChild loads the store, then times one Sync of the poller's use case.
func runChild(ctx context.Context, args []string, out io.Writer) error {
	var f childFlags
	fs := flag.NewFlagSet(childCommand, flag.ContinueOnError)
	fs.StringVar(&f.api, "api", "", "simulator API base URL")
	fs.StringVar(&f.user, "user", "", "1NCE user")
	fs.Float64Var(&f.rate, "rate", 1000, "client request rate")
	fs.IntVar(&f.pageSize, "page-size", 100, "SIMs per page")
	fs.StringVar(&f.store, "store", "memory", "memory or moto")
	fs.StringVar(&f.storeFile, "store-file", "", "iccid/ip lines of the memory store")
	fs.StringVar(&f.endpoint, "endpoint", "", "moto endpoint")
	fs.StringVar(&f.table, "table", "", "moto table")
	if err := fs.Parse(args); err != nil {
		return err
	}
	store, err := openStore(ctx, f)
	if err != nil {
		return err
	}
	inventory, err := onceapi.New(onceapi.Config{BaseURL: f.api, Username: f.user,
		Password: config.Secret(os.Getenv("BENCH_ONCE_PASSWORD")), RateLimit: f.rate, PageSize: f.pageSize})
	if err != nil {
		return err
	}
	pub := &countingPublisher{}
	syncer, err := app.NewSyncer(app.Deps{Store: store, Inventory: adapters.OnceInventory{Client: inventory}, Publisher: pub, Notifier: discardNotifier{},
		Lease: localLease{}, Logger: slog.New(slog.DiscardHandler)}, app.Guard{MaxDisableShare: 0.1, DisableAllowance: 5}, 16)
	if err != nil {
		return err
	}
	start := time.Now()
	sum, err := syncer.Sync(ctx, false)
	res := childResult{Seconds: time.Since(start).Seconds(), Listed: sum.Listed, Pages: sum.Pages,
		StoreSIMs: sum.StoreActive + sum.StoreInactive, Published: int(pub.n.Load())}
	if err != nil {
		res.Error = err.Error()
	}
	if res.PeakRSSKB, err = peakRSSKB(); err != nil {
		return err
	}
	return json.NewEncoder(out).Encode(res)
}

// openStore returns the store the child reconciles against.
func openStore(ctx context.Context, f childFlags) (app.Store, error) {
	switch f.store {
	case "memory":
		return loadSummaries(f.storeFile)
	case "moto":
		cfg, err := testkit.LoadAWSConfig(ctx, f.endpoint)
		if err != nil {
			return nil, err
		}
		return simstore.NewDynamo(dynamodb.NewFromConfig(cfg), f.table), nil
	}
	return nil, fmt.Errorf("store %q: want memory or moto", f.store)
}

// summaryStore holds exactly what the DynamoDB store's Scan projects
// (iccid, ip, active, status, version) for every SIM: the fast path of the
// benchmark, free of the emulator's own slowness.
type summaryStore []simrec.Summary

// Scan hands every summary to fn, as the DynamoDB store does page by page.
func (s summaryStore) Scan(_ context.Context, fn func(simrec.Summary) error) error {
	for _, sum := range s {
		if err := fn(sum); err != nil {
			return err
		}
	}
	return nil
}

// loadSummaries reads the parent's "iccid ip" lines as provisioned records.
func loadSummaries(path string) (summaryStore, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out summaryStore
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		iccid, ip, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			return nil, fmt.Errorf("store file line %q", sc.Text())
		}
		out = append(out, simrec.Summary{ICCID: iccid, IP: ip, Active: true, Status: onceapi.StatusEnabled, Version: 1})
	}
	return out, sc.Err()
}

// countingPublisher counts commands instead of sending them; an unchanged
// inventory must publish none.
type countingPublisher struct{ n atomic.Int64 }

func (p *countingPublisher) Publish(context.Context, events.SimCommand) error {
	p.n.Add(1)
	return nil
}

type discardNotifier struct{}

func (discardNotifier) Failure(context.Context, string, string, string) error { return nil }

// localLease runs the job at once: the benchmark is the only poller, and the
// lease's two DynamoDB calls per run are not what is being measured.
type localLease struct{}

func (localLease) Do(ctx context.Context, fn func(context.Context) error) error { return fn(ctx) }

// peakRSSKB reads VmHWM, this process's resident high-water mark since exec.
// rusage's ru_maxrss would not do: Go starts children sharing the parent's
// memory until exec (vfork), and Linux carries that RSS into the child's
// maximum, so it would count the simulator's inventory held by the parent.
func peakRSSKB() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("peak RSS: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, errors.New("peak RSS: no VmHWM in /proc/self/status")
}
