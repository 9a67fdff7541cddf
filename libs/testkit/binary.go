package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sync"
	"testing"
)

var builds sync.Map // command path → *buildOnce

type buildOnce struct {
	once sync.Once
	path string
	err  error
}

// Binary returns the program of the repository's command cmd (its path,
// e.g. "services/provisioner/cmd/provisioner"): $BIN_DIR/<name> where
// `make test` built it, else a build made once and shared by the test
// binary's tests. It skips under -short (building takes time).
func Binary(t testing.TB, cmd string) string {
	t.Helper()
	SkipShort(t)
	name := path.Base(cmd)
	if dir := os.Getenv("BIN_DIR"); dir != "" {
		return filepath.Join(dir, name)
	}
	v, _ := builds.LoadOrStore(cmd, &buildOnce{})
	b := v.(*buildOnce)
	b.once.Do(func() { b.path, b.err = build(cmd) })
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// build compiles cmd into a temporary directory (left for the OS to clean:
// the binary outlives any single test).
func build(cmd string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "testkit-bin-")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, path.Base(cmd))
	c := exec.Command("go", "build", "-o", out, "./"+cmd)
	c.Dir = root
	if msg, err := c.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %v\n%s", cmd, err, msg)
	}
	return out, nil
}
