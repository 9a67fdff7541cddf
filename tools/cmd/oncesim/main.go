// Command oncesim serves a simulated 1NCE Management API (see package oncesim) for local demos
// and for tests that run the simulator as a separate process. After listening it prints one line,
// "oncesim listening on http://<host:port><base path>", which harnesses parse to find the port.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, nil)))
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "oncesim:", err)
	}
	if errors.Is(err, errUsage) {
		fmt.Fprintln(os.Stderr, "Run 'oncesim -h' for the flags.")
	}
	os.Exit(exitCode(err))
}

// exitCode is 0 on success, 2 for bad flags, 1 for anything else.
func exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		return 1
	}
}
