// Command sqsstub serves the in-memory SQS of package sqsstub, so that
// benchmarks can give the services a fast SQS (AWS_ENDPOINT_URL_SQS) while
// everything else stays on moto. After listening it prints one line,
// "sqsstub listening on http://<host:port>", which harnesses parse to find
// the port; SIGINT or SIGTERM stop it gracefully.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/simbridge/simbridge/tools/sqsstub"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "sqsstub:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends, then stops the server (pending long polls
// answer at once, other requests finish).
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("sqsstub", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on (port 0 picks a free one)")
	region := fs.String("region", "us-east-1", "region in queue ARNs")
	account := fs.String("account", "123456789012", "account id in queue URLs and ARNs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	endpoint, stopServer, err := sqsstub.Start(*listen, sqsstub.Options{Region: *region, AccountID: *account})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "sqsstub listening on %s\n", endpoint)
	<-ctx.Done()
	return stopServer()
}
