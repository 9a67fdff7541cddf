package testkit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// emulatorPackage is the container emulator's program (cmd/emulator).
const emulatorPackage = "github.com/simbridge/simbridge/libs/testkit/cmd/emulator"

// startEmulator starts the AWS emulator tests use: a moto container
// (cmd/emulator, through testcontainers-go) where a Docker engine is
// reachable, else a local moto_server (machines without Docker, such as the
// development machines). TESTKIT_EMULATOR chooses explicitly: "local" or
// "container" (then a missing engine is an error, not a fallback).
func startEmulator(ctx context.Context, logw io.Writer) (string, func() error, error) {
	mode := os.Getenv("TESTKIT_EMULATOR")
	if mode == "container" || (mode == "" && dockerConfigured()) {
		endpoint, stop, err := startContainer(ctx, logw)
		switch {
		case err == nil:
			return endpoint, stop, nil
		case mode == "container" || !errors.Is(err, errNoDocker):
			return "", nil, err
		}
	}
	m, err := StartMoto(ctx, logw)
	if err != nil {
		return "", nil, err
	}
	return m.Endpoint, m.Stop, nil
}

// dockerConfigured reports whether a Docker engine may be reachable (the
// emulator program checks that it answers).
func dockerConfigured() bool {
	if os.Getenv("DOCKER_HOST") != "" {
		return true
	}
	_, err := os.Stat("/var/run/docker.sock")
	return err == nil
}

var errNoDocker = errors.New("no Docker engine answers")

// startContainer runs the emulator program ($BIN_DIR/emulator when built,
// else `go run`) and reads the endpoint it announces; closing its stdin
// removes the container.
func startContainer(ctx context.Context, logw io.Writer) (string, func() error, error) {
	cmd := exec.CommandContext(ctx, "go", "run", emulatorPackage)
	if bin := filepath.Join(os.Getenv("BIN_DIR"), "emulator"); os.Getenv("BIN_DIR") != "" {
		if _, err := os.Stat(bin); err == nil {
			cmd = exec.CommandContext(ctx, bin)
		}
	}
	cmd.Stderr = logw
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("container emulator: %w", err)
	}
	stop := func() error {
		_ = stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			return err
		case <-time.After(time.Minute):
			_ = cmd.Process.Kill()
			return errors.New("container emulator did not stop")
		}
	}
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if ep, ok := strings.CutPrefix(lines.Text(), "endpoint="); ok {
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			return ep, stop, nil
		}
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 3 {
		return "", nil, errNoDocker
	}
	return "", nil, fmt.Errorf("container emulator ended before it answered: %v", err)
}
