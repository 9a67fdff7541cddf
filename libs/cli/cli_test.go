package cli_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/simbridge/simbridge/libs/cli"
)

func TestRunTurnsOutcomesIntoExitCodes(t *testing.T) {
	orig := os.Args
	os.Args = []string{"svc"}
	t.Cleanup(func() { os.Args = orig })
	tests := []struct {
		name string
		run  cli.RunFunc
		want int
	}{
		{"clean shutdown", func(context.Context, *slog.Logger) error { return nil }, 0},
		{"failure", func(context.Context, *slog.Logger) error { return errors.New("boom") }, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("LOG_LEVEL", "error")
			if got := cli.Run("svc", tc.run); got != tc.want {
				t.Fatalf("exit code %d, want %d", got, tc.want)
			}
		})
	}
	t.Run("bad log level", func(t *testing.T) {
		t.Setenv("LOG_LEVEL", "loud")
		if got := cli.Run("svc", func(context.Context, *slog.Logger) error { return nil }); got != 2 {
			t.Fatalf("exit code %d, want 2", got)
		}
	})
}

type helpConfig struct {
	Table   string `env:"TABLE, required" desc:"the table"`
	Workers int    `env:"WORKERS, default=4" desc:"in parallel"`
}

func TestHelpListsEveryVariable(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	if err := cli.Help(&b, "svc", helpConfig{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"Usage: svc", "-healthcheck", "LOG_LEVEL", "info", "TABLE", "required", "the table", "WORKERS", "4", "in parallel"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
}

func TestRunAnswersHelpWithoutRunning(t *testing.T) {
	orig := os.Args
	t.Cleanup(func() { os.Args = orig })
	ran := false
	run := func(context.Context, *slog.Logger) error { ran = true; return nil }
	cases := []struct {
		args []string
		want int
	}{{[]string{"-h"}, 0}, {[]string{"--help"}, 0}, {[]string{"-healtcheck"}, 2}}
	for _, c := range cases {
		os.Args = append([]string{"svc"}, c.args...)
		if got := cli.Run("svc", run, helpConfig{}); got != c.want || ran {
			t.Fatalf("%v: exit %d (want %d), ran=%v", c.args, got, c.want, ran)
		}
	}
}
