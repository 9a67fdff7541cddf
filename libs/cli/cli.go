// Package cli is what every main does, written once. For a service: answer
// `-healthcheck` (container health checks), build the context cancelled by
// SIGINT/SIGTERM and the JSON logger, run the service, and turn the outcome
// into an exit code. For a tool: the same signal context, its arguments and
// an exit code. It never exits itself: main passes the code to os.Exit.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
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

// CommandFunc is a tool's run: its arguments (without the program name) and
// where to print results.
type CommandFunc func(ctx context.Context, args []string, out io.Writer) error

// Command runs a command-line tool with a context cancelled by SIGINT or
// SIGTERM and returns its exit code: 0 on success or -h, 1 after printing
// "name: error" to stderr.
func Command(name string, run CommandFunc) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	default:
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 1
	}
}
