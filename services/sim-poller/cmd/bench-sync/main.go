// Command bench-sync measures one reconciliation of an unchanged inventory:
// the 1NCE simulator serves N SIMs, the store holds the same N, and the
// poller's real use case (onceapi client, reconciler, publisher fan-out)
// runs in a child process whose peak RSS is read from rusage, so neither the
// simulator nor the benchmark's own bookkeeping counts against it.
//
// `make bench-sync` runs it. The last line is always
// `sims=<largest> seconds=<s> peak_rss_mb=<m> published=<n>`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if len(os.Args) > 1 && os.Args[1] == childCommand {
		err = runChild(ctx, os.Args[2:], os.Stdout)
	} else {
		err = runParent(ctx, os.Args[1:], os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-sync:", err)
		stop()
		os.Exit(1)
	}
}

// parentFlags are the benchmark's settings.
type parentFlags struct {
	sizes     []int
	motoSizes []int
	rate      float64
	pageSize  int
}

func parseParentFlags(args []string) (parentFlags, error) {
	f := parentFlags{}
	fs := flag.NewFlagSet("bench-sync", flag.ContinueOnError)
	sizes := fs.String("sizes", "1000,10000,100000", "inventory sizes against the in-memory store; the last is the headline")
	motoSizes := fs.String("moto-sizes", "1000,10000", "inventory sizes against a DynamoDB table in moto (\"\" to skip)")
	fs.Float64Var(&f.rate, "rate", 1000, "client-side 1NCE request rate (requests/s); the real API allows 10")
	fs.IntVar(&f.pageSize, "page-size", 100, "SIMs per page")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	var err error
	if f.sizes, err = parseSizes(*sizes); err != nil || len(f.sizes) == 0 {
		return f, fmt.Errorf("-sizes %q: want a comma-separated list of positive counts", *sizes)
	}
	if f.motoSizes, err = parseSizes(*motoSizes); err != nil {
		return f, fmt.Errorf("-moto-sizes %q: %w", *motoSizes, err)
	}
	return f, nil
}
