// Command bench-provision measures provisioning end to end (first poll to
// every SIM onboardable) on the local stack, with each certificate
// authority: the account's own CA (the default) and Amazon's
// (CreateKeysAndCertificate); once more with one worker, the way the
// reference system effectively ran (one message group, batch size 1); and
// then several provisioner tasks against an account-wide IoT quota enforced
// in front of the emulator, to show the tasks share it instead of each
// sending all of it. SQS comes from tools/sqsstub, everything else from
// moto: moto's FIFO queues cost O(n) per operation, so on moto alone the
// figures would measure moto's queue. It also measures moto's own
// CreateKeysAndCertificate rate, a ceiling of the aws mode on the emulator.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/simbridge/simbridge/libs/cli"
)

func main() { os.Exit(cli.Command("bench-provision", run)) }

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bench-provision", flag.ContinueOnError)
	bin := fs.String("bin", "bin", "directory of the built commands")
	sims := fs.Int("sims", 2000, "SIMs to provision in each authority's run")
	workers := fs.Int("workers", 8, "provisioner workers of the default runs (WORKERS default)")
	logs := fs.String("logs", ".run/bench-provision", "log folder")
	clients := fs.Int("ceiling-clients", 4, "concurrent callers measuring moto's CreateKeysAndCertificate rate")
	ceilingFor := fs.Duration("ceiling-duration", 15*time.Second, "how long to measure moto's CreateKeysAndCertificate rate")
	quota := fs.Float64("quota", 5, "account-wide RegisterCertificate quota (requests/s) of the quota run; below what the emulator sustains on this machine")
	tasks := fs.Int("tasks", 4, "provisioner tasks of the quota run")
	quotaSIMs := fs.Int("quota-sims", 400, "SIMs of the quota run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	fmt.Fprintf(out, "provisioning %d new SIMs end to end on the local stack (logs in %s)\n", *sims, *logs)
	fmt.Fprintln(out, "SQS: tools/sqsstub (in memory), since moto's SQS FIFO costs O(n) per operation (2,000 sends to one queue take 157 s);"+
		" IoT, DynamoDB, KMS, SNS and IoT Data: moto")
	own, err := measure(ctx, run1{bin: *bin, logDir: filepath.Join(*logs, "own"), sims: *sims, workers: *workers, authority: "own"}, out)
	if err != nil {
		return err
	}
	amazon, err := measure(ctx, run1{bin: *bin, logDir: filepath.Join(*logs, "aws"), sims: *sims, workers: *workers, authority: "aws"}, out)
	if err != nil {
		return err
	}
	one, err := measure(ctx, run1{bin: *bin, logDir: filepath.Join(*logs, "one-worker"), sims: *sims, workers: 1, authority: "own"}, out)
	if err != nil {
		return err
	}
	ceiling, err := motoCeiling(ctx, *logs, *clients, *ceilingFor)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "moto ceiling: CreateKeysAndCertificate alone answers %.1f/s with %d concurrent clients (one RSA key each)\n", ceiling, *clients)
	q, err := measureQuota(ctx, quotaRun{bin: *bin, logDir: filepath.Join(*logs, "quota"), sims: *quotaSIMs, tasks: *tasks, quota: *quota}, out)
	if err != nil {
		return err
	}
	model := 15000.0 / 10 // RegisterCertificate (own) or CreateKeysAndCertificate (aws): 10/s by default
	fmt.Fprintf(out, "modelled on AWS at default quotas (RegisterCertificate or CreateKeysAndCertificate 10/s): 15000 SIMs in %.0f s (%.0f min); reference: ~3600 s\n", model, model/60)
	fmt.Fprintf(out, "sims=%d own_ca_sims_per_s=%.1f aws_sims_per_s=%.1f one_worker_sims_per_s=%.1f ratio=%.2f quota_rps=%g tasks=%d achieved_rps=%.2f quota_use=%.2f dlq=%d\n",
		*sims, own, amazon, one, own/one, q.quota, q.tasks, q.achieved, q.achieved/q.quota, q.dlq)
	return nil
}
