// Command bench-provision measures provisioning end to end (first poll to
// every SIM onboardable) on the local emulator: once with the default
// settings and once with one worker, the way the reference system
// effectively ran (one message group, batch size 1). It also prints the
// modelled time for 15,000 SIMs at AWS IoT's default quotas.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/tools/devstack"
)

// emulatorLimits lifts the client-side AWS quotas: the emulator has none,
// and the point is to measure the system, not the quota.
const emulatorLimits = "IOT_RATE_LIMITS=CreateKeysAndCertificate=10000,AttachPolicy=10000,CreateThing=10000,AttachThingPrincipal=10000,UpdateCertificate=10000,DeleteCertificate=10000"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench-provision:", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bench-provision", flag.ContinueOnError)
	bin := fs.String("bin", "bin", "directory of the built commands")
	sims := fs.Int("sims", 2000, "SIMs to provision")
	workers := fs.Int("workers", 8, "provisioner workers of the default run (WORKERS default)")
	logs := fs.String("logs", ".run/bench-provision", "log folder")
	if err := fs.Parse(args); err != nil {
		return err
	}
	fmt.Fprintf(out, "provisioning %d new SIMs end to end on the local emulator (logs in %s)\n", *sims, *logs)
	def, err := measure(ctx, *bin, filepath.Join(*logs, "default"), *sims, *workers, out)
	if err != nil {
		return err
	}
	one, err := measure(ctx, *bin, filepath.Join(*logs, "one-worker"), *sims, 1, out)
	if err != nil {
		return err
	}
	model := 15000.0 / 10 // CreateKeysAndCertificate and UpdateCertificate: 10/s each by default, in parallel
	fmt.Fprintf(out, "modelled on AWS at default quotas (CreateKeysAndCertificate 10/s): 15000 SIMs in %.0f s (%.0f min); reference: ~3600 s\n", model, model/60)
	fmt.Fprintf(out, "sims=%d default_sims_per_s=%.1f one_worker_sims_per_s=%.1f ratio=%.2f\n", *sims, def, one, def/one)
	return nil
}

// measure starts a fresh stack, syncs once and waits until every SIM's
// record is active with credentials; it returns SIMs per second.
func measure(ctx context.Context, bin, logDir string, n, workers int, out io.Writer) (float64, error) {
	stack, err := devstack.Start(ctx, devstack.Options{
		BinDir: bin, LogDir: logDir, SIMs: n, ICCIDPrefix: "89882806660", IPPattern: "10.0.x.x", IPStart: 1, SyncInterval: time.Hour,
		Env: map[string][]string{
			"sim-poller":  {"SYNC_ON_START=false", "LOG_LEVEL=warn"},
			"provisioner": {fmt.Sprintf("WORKERS=%d", workers), emulatorLimits, "LOG_LEVEL=warn"},
		},
	})
	if err != nil {
		return 0, err
	}
	defer stack.Stop()
	cfg, err := testkit.LoadAWSConfig(ctx, stack.AWSEndpoint())
	if err != nil {
		return 0, err
	}
	store := simstore.NewDynamo(dynamodb.NewFromConfig(cfg), stack.Resources.Table())
	start := time.Now()
	if _, err := stack.Sync(ctx); err != nil {
		return 0, err
	}
	for {
		done, err := onboardable(ctx, store)
		if err != nil {
			return 0, err
		}
		if done >= n {
			break
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	took := time.Since(start)
	rate := float64(n) / took.Seconds()
	fmt.Fprintf(out, "workers=%d sims=%d seconds=%.1f sims_per_s=%.1f\n", workers, n, took.Seconds(), rate)
	return rate, nil
}

func onboardable(ctx context.Context, store *simstore.Dynamo) (int, error) {
	n := 0
	err := store.Scan(ctx, func(s simstore.Summary) error {
		if s.Active {
			n++
		}
		return nil
	})
	return n, err
}
