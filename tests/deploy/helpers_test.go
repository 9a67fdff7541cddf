package deploy

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/simbridge/simbridge/libs/testkit"
)

// root is the repository root (the directory holding go.work).
func root(t *testing.T) string {
	t.Helper()
	r, err := testkit.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// templatePath is the stack of the whole system.
func templatePath(t *testing.T) string {
	return filepath.Join(root(t), "deployments", "cloudformation", "simbridge.yaml")
}

func loadTemplate(t *testing.T) *Template {
	t.Helper()
	tpl, err := LoadTemplate(templatePath(t))
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

var (
	specsOnce sync.Once
	specs     map[string]EnvSpec
	specsErr  error
)

// envSpecs derives, once per test binary, what each service reads from its environment.
func envSpecs(t *testing.T) map[string]EnvSpec {
	t.Helper()
	specsOnce.Do(func() { specs, specsErr = LoadEnvSpecs(root(t)) })
	if specsErr != nil {
		t.Fatal(specsErr)
	}
	return specs
}

// writeTemp writes content to a new file named name in a temp dir.
func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// readFile returns the content of path or fails the test.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
