package testkit

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// MotoImage is the emulator image tests run where a Docker engine is
// reachable; its version matches the moto_server the local harness uses.
const MotoImage = "motoserver/moto:5.2.1"

// dockerAvailable reports whether a Docker engine answers. TESTKIT_EMULATOR
// chooses explicitly: "local" (moto_server) or "container".
func dockerAvailable(ctx context.Context) bool {
	switch os.Getenv("TESTKIT_EMULATOR") {
	case "local":
		return false
	case "container":
		return true
	}
	provider, err := testcontainers.NewDockerProvider()
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return provider.Health(ctx) == nil
}

// startMotoContainer runs moto in a container with the same launcher as the
// local harness (AWS-like certificate ids) and returns its endpoint.
func startMotoContainer(ctx context.Context) (string, func() error, error) {
	c, err := testcontainers.Run(ctx, MotoImage,
		testcontainers.WithEntrypoint("python3", "-c", motoLauncher, "-H", "0.0.0.0", "-p", "5000"),
		testcontainers.WithExposedPorts("5000/tcp"),
		testcontainers.WithWaitStrategy(wait.ForHTTP("/moto-api/config").WithPort("5000/tcp").WithStartupTimeout(time.Minute)),
	)
	if err != nil {
		if c != nil {
			_ = c.Terminate(context.Background())
		}
		return "", nil, fmt.Errorf("moto container: %w", err)
	}
	endpoint, err := c.PortEndpoint(ctx, "5000/tcp", "http")
	if err != nil {
		_ = c.Terminate(context.Background())
		return "", nil, fmt.Errorf("moto container endpoint: %w", err)
	}
	return endpoint, func() error { return c.Terminate(context.Background()) }, nil
}

// startEmulator starts the AWS emulator tests use: a moto container through
// testcontainers-go where a Docker engine is reachable, else a local
// moto_server (machines without Docker, such as the development machines).
func startEmulator(ctx context.Context, logw io.Writer) (string, func() error, error) {
	if dockerAvailable(ctx) {
		return startMotoContainer(ctx)
	}
	m, err := StartMoto(ctx, logw)
	if err != nil {
		return "", nil, err
	}
	return m.Endpoint, m.Stop, nil
}
