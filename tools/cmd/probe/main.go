// Command probe GETs a URL and exits 0 on a 2xx answer, 1 otherwise. It is
// the health check of images whose program has no -healthcheck flag (the
// 1NCE simulator): the images are distroless, without curl or wget.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/simbridge/simbridge/libs/cli"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: probe URL")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cli.ProbeTimeout)
	err := cli.Probe(ctx, os.Args[1])
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
}
