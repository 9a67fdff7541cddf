// Command vpn-gateway lets devices in 1NCE's network fetch their credentials.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/simbridge/simbridge/libs/healthcheck"
	"github.com/simbridge/simbridge/libs/logging"
	"github.com/simbridge/simbridge/services/vpn-gateway/internal/service"
)

func main() {
	if healthcheck.Requested(os.Args[1:]) {
		os.Exit(healthcheck.Main())
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	logger, err := logging.FromEnv(ctx, os.Stdout, "vpn-gateway")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := service.Run(ctx, logger); err != nil {
		logger.Error("exit", "error", err)
		stop()
		os.Exit(1)
	}
}
