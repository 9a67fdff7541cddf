// Package cli is what every main does, written once. For a service: answer
// `-h` (its environment variables, from its configuration struct) and
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

	"github.com/simbridge/simbridge/libs/config"
	"github.com/simbridge/simbridge/libs/logging"
)

// RunFunc is a service's run: it blocks until ctx ends (nil) or it fails.
type RunFunc func(ctx context.Context, logger *slog.Logger) error

// Run runs the service named name and returns the process exit code: 0 after
// a clean shutdown or -h, 1 when run failed, 2 when the logger could not be
// built or the arguments are not understood. configs are the service's
// configuration structs (zero values will do); -h lists their variables
// after the logging ones every service reads.
func Run(name string, run RunFunc, configs ...any) int {
	args := os.Args[1:]
	switch {
	case healthcheckRequested(args):
		return healthcheckMain()
	case helpRequested(args):
		if err := Help(os.Stdout, name, configs...); err != nil {
			return 2
		}
		return 0
	case len(args) == 1 && args[0] == MarkdownFlag:
		if err := config.Markdown(os.Stdout, describe(configs)); err != nil {
			return 2
		}
		return 0
	case len(args) > 0:
		fmt.Fprintf(os.Stderr, "%s: unexpected arguments %q; the service is configured by environment variables (-h lists them)\n", name, args)
		return 2
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

// Help writes what `<name> -h` prints: usage and every environment variable
// of the logging settings and of configs, with default and meaning.
func Help(w io.Writer, name string, configs ...any) error {
	fmt.Fprintf(w, "Usage: %s [-h | %s]\n\n", name, HealthcheckFlag)
	fmt.Fprintf(w, "%s is configured by environment variables; AWS settings are the SDK's own\n", name)
	fmt.Fprintf(w, "(AWS_REGION, AWS_ENDPOINT_URL, credentials). %s probes the running instance.\n\n", HealthcheckFlag)
	return config.Usage(w, describe(configs))
}

// MarkdownFlag prints the variables as a Markdown table (docs/configuration.md
// is generated from it: `make docs`).
const MarkdownFlag = "-config-markdown"

func describe(configs []any) []config.Var {
	vars := config.Describe(logging.Settings{})
	for _, c := range configs {
		vars = append(vars, config.Describe(c)...)
	}
	return vars
}

func helpRequested(args []string) bool {
	return len(args) == 1 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help")
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
