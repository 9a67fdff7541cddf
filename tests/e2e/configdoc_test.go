package e2e_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/tools/configdoc"
)

// docs/configuration.md is what the services say they read: a variable
// added, renamed or given another default without `make docs` fails here.
func TestConfigurationPageIsCurrent(t *testing.T) {
	root, err := testkit.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	want, err := configdoc.Render(binaries(t))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatal("docs/configuration.md is stale: run `make docs` and commit it")
	}
}
