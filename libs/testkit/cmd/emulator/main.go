// Command emulator runs the AWS emulator of the tests in a container (moto
// with the same launcher as the local moto_server, through
// testcontainers-go), prints "endpoint=<url>" on stdout when it answers and
// removes the container when its stdin closes or it is signalled. testkit
// runs it where a Docker engine is reachable; it lives in a program of its
// own so testcontainers and the Docker client stay out of every module that
// only imports testkit (the services and libs).
//
// Exit status 3 means no Docker engine answers.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/simbridge/simbridge/libs/testkit"
)

// MotoImage is the emulator image; its version matches the moto_server the
// local harness installs (tools/scripts/deps.sh).
const MotoImage = "motoserver/moto:5.2.1"

// exitNoDocker tells testkit to fall back to a local moto_server.
const exitNoDocker = 3

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if !dockerAvailable(ctx) {
		fmt.Fprintln(os.Stderr, "emulator: no Docker engine answers")
		stop()
		os.Exit(exitNoDocker)
	}
	if err := run(ctx, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "emulator:", err)
		stop()
		os.Exit(1)
	}
}

// run starts the container, announces its endpoint and waits for the end.
func run(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	c, err := testcontainers.Run(ctx, MotoImage,
		testcontainers.WithEntrypoint("python3", "-c", testkit.MotoLauncher(), "-H", "0.0.0.0", "-p", "5000"),
		testcontainers.WithExposedPorts("5000/tcp"),
		testcontainers.WithWaitStrategy(wait.ForHTTP("/moto-api/config").WithPort("5000/tcp").WithStartupTimeout(time.Minute)),
	)
	defer func() {
		if c != nil {
			_ = c.Terminate(context.Background())
		}
	}()
	if err != nil {
		return fmt.Errorf("moto container: %w", err)
	}
	endpoint, err := c.PortEndpoint(ctx, "5000/tcp", "http")
	if err != nil {
		return fmt.Errorf("moto container endpoint: %w", err)
	}
	fmt.Fprintf(stdout, "endpoint=%s\n", endpoint)
	closed := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, stdin); close(closed) }()
	select {
	case <-ctx.Done():
	case <-closed:
	}
	return nil
}

// dockerAvailable reports whether a Docker engine answers.
func dockerAvailable(ctx context.Context) bool {
	provider, err := testcontainers.NewDockerProvider()
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return provider.Health(ctx) == nil
}
