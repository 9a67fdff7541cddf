package cli_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/simbridge/simbridge/libs/cli"
)

func TestRunTurnsOutcomesIntoExitCodes(t *testing.T) {
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
