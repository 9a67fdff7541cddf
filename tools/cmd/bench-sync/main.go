// Command bench-sync measures the real sim-poller binary (make build puts
// it in bin/) over one reconciliation of an unchanged inventory: the 1NCE
// simulator serves N SIMs, the SIM table in moto holds the same N as
// provisioned, and one POST /sync runs a full sync, which must publish
// nothing. Per size it prints the time POST /sync took, the poller's peak
// resident memory and the commands it published; the last line is always
// `sims=<largest> seconds=<s> peak_rss_mb=<m> published=<n>`
// (docs/benchmarks.md, `make bench-sync`).
//
// Each size gets a fresh moto and a fresh poller process, so one size's
// table or heap never weighs on the next.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/simbridge/simbridge/libs/cli"
)

func main() { os.Exit(cli.Command("bench-sync", run)) }

// options are the benchmark's settings.
type options struct {
	bin      string
	logDir   string
	sizes    []int
	rate     float64
	pageSize int
}

func parseOptions(args []string) (options, error) {
	o := options{}
	fs := flag.NewFlagSet("bench-sync", flag.ContinueOnError)
	binDefault := os.Getenv("BIN_DIR")
	if binDefault == "" {
		binDefault = "bin"
	}
	fs.StringVar(&o.bin, "bin", binDefault, "directory of the built sim-poller (make build; default $BIN_DIR, else bin)")
	fs.StringVar(&o.logDir, "logs", ".run/bench-sync", "folder of the poller's and moto's logs")
	sizes := fs.String("sizes", "1000,10000", "inventory sizes, comma-separated; the largest is the headline")
	fs.Float64Var(&o.rate, "rate", 1000, "the poller's 1NCE request rate (ONCE_RATE_LIMIT, requests/s); the real API allows 10")
	fs.IntVar(&o.pageSize, "page-size", 100, "SIMs per page (ONCE_PAGE_SIZE)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var err error
	if o.sizes, err = parseSizes(*sizes); err != nil {
		return o, fmt.Errorf("-sizes %q: %w", *sizes, err)
	}
	return o, nil
}

// run measures every size and prints one line each, then the headline.
func run(ctx context.Context, args []string, out io.Writer) error {
	o, err := parseOptions(args)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.logDir, 0o755); err != nil {
		return err
	}
	fmt.Fprintf(out, "# one unchanged reconciliation per size by %s/sim-poller: POST /sync, SIM table in moto, client rate %.0f req/s, %d SIMs per page (logs in %s)\n",
		o.bin, o.rate, o.pageSize, o.logDir)
	var largest result
	for _, n := range o.sizes {
		r, err := measure(ctx, o, n, out)
		if err != nil {
			return fmt.Errorf("%d SIMs: %w", n, err)
		}
		fmt.Fprintln(out, r)
		if r.sims >= largest.sims {
			largest = r
		}
	}
	fmt.Fprintf(out, "sims=%d seconds=%.2f peak_rss_mb=%.1f published=%d\n", largest.sims, largest.seconds, largest.peakRSSMB, largest.published)
	return nil
}

// parseSizes reads "1000,10000" (underscores allowed: 100_000).
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
	if len(out) == 0 {
		return nil, fmt.Errorf("no size")
	}
	return out, nil
}
