// Package cli is what every service's main does, written once: answer
// `-healthcheck` (container health checks), build the context cancelled by
// SIGINT/SIGTERM and the JSON logger, run the service, and turn the outcome
// into an exit code. It never exits itself: main passes the code to os.Exit.
package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/simbridge/simbridge/libs/healthcheck"
	"github.com/simbridge/simbridge/libs/logging"
)

// RunFunc is a service's run: it blocks until ctx ends (nil) or it fails.
type RunFunc func(ctx context.Context, logger *slog.Logger) error

// Run runs the service named name and returns the process exit code: 0 after
// a clean shutdown, 1 when run failed, 2 when the logger could not be built.
func Run(name string, run RunFunc) int {
	if healthcheck.Requested(os.Args[1:]) {
		return healthcheck.Main()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	logger, err := logging.FromEnv(ctx, os.Stdout, name)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := run(ctx, logger); err != nil {
		logger.Error("exit", "error", err)
		return 1
	}
	return 0
}
