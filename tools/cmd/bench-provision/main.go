// Command bench-provision measures provisioning end to end (first poll to
// every SIM onboardable) on the local stack: once with the default
// settings and once with one worker, the way the reference system
// effectively ran (one message group, batch size 1). SQS comes from
// tools/sqsstub, everything else from moto: moto's FIFO queues cost O(n)
// per operation, so on moto alone the figures would measure moto's queue.
// It also measures moto's own CreateKeysAndCertificate rate, the ceiling of
// any provisioning on the emulator, and prints the modelled time for
// 15,000 SIMs at AWS IoT's default quotas.
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
)

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
	clients := fs.Int("ceiling-clients", 4, "concurrent callers measuring moto's CreateKeysAndCertificate rate")
	ceilingFor := fs.Duration("ceiling-duration", 15*time.Second, "how long to measure moto's CreateKeysAndCertificate rate")
	if err := fs.Parse(args); err != nil {
		return err
	}
	fmt.Fprintf(out, "provisioning %d new SIMs end to end on the local stack (logs in %s)\n", *sims, *logs)
	fmt.Fprintln(out, "SQS: tools/sqsstub (in memory), since moto's SQS FIFO costs O(n) per operation (2,000 sends to one queue take 157 s);"+
		" IoT, DynamoDB, KMS, SNS and IoT Data: moto")
	def, err := measure(ctx, *bin, filepath.Join(*logs, "default"), *sims, *workers, out)
	if err != nil {
		return err
	}
	one, err := measure(ctx, *bin, filepath.Join(*logs, "one-worker"), *sims, 1, out)
	if err != nil {
		return err
	}
	ceiling, err := motoCeiling(ctx, *logs, *clients, *ceilingFor)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "moto ceiling: CreateKeysAndCertificate alone answers %.1f/s with %d concurrent clients (one RSA key each)\n", ceiling, *clients)
	model := 15000.0 / 10 // CreateKeysAndCertificate and UpdateCertificate: 10/s each by default, in parallel
	fmt.Fprintf(out, "modelled on AWS at default quotas (CreateKeysAndCertificate 10/s): 15000 SIMs in %.0f s (%.0f min); reference: ~3600 s\n", model, model/60)
	fmt.Fprintf(out, "sims=%d default_sims_per_s=%.1f one_worker_sims_per_s=%.1f ratio=%.2f\n", *sims, def, one, def/one)
	return nil
}
