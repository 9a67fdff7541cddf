package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/simbridge/simbridge/libs/testkit"
)

// cfnLint finds cfn-lint: $CFN_LINT, PATH, then .venv/bin where `make deps`
// installs it. A missing linter fails the test, it never skips.
func cfnLint(t *testing.T) string {
	t.Helper()
	testkit.SkipShortNeeding(t, "cfn-lint")
	if p := os.Getenv("CFN_LINT"); p != "" {
		return p
	}
	if p, err := exec.LookPath("cfn-lint"); err == nil {
		return p
	}
	p := filepath.Join(root(t), ".venv", "bin", "cfn-lint")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	t.Fatal("cfn-lint not found: run `make deps` (installs it into .venv with pip) or `pip install cfn-lint`, or set CFN_LINT")
	return ""
}

// runCfnLint lints files with every rule on (no suppression: the templates
// carry no cfn-lint metadata and no .cfnlintrc exists) and returns the
// output and whether it was clean.
func runCfnLint(t *testing.T, files ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command(cfnLint(t), append([]string{"--"}, files...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

func TestCloudFormationTemplatesLintClean(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(root(t), "deployments", "cloudformation", "*.yaml"))
	if err != nil || len(files) < 2 {
		t.Fatalf("templates: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			b, _ := os.ReadFile(f)
			if strings.Contains(string(b), "cfn-lint") {
				t.Error("rules must not be suppressed in the template (Metadata cfn-lint)")
			}
			if out, ok := runCfnLint(t, f); !ok {
				t.Fatalf("cfn-lint %s:\n%s", filepath.Base(f), out)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(root(t), ".cfnlintrc")); err == nil {
		t.Error(".cfnlintrc would suppress rules for every template")
	}
}

// TestCfnLintRejectsBrokenTemplates proves the lint step fails on the kind of
// mistakes it is there for, starting from the real template.
func TestCfnLintRejectsBrokenTemplates(t *testing.T) {
	t.Parallel()
	orig, err := os.ReadFile(templatePath(t))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, old, new, want string
	}{
		{"unknown property", "      PointInTimeRecoverySpecification:", "      PointInTimeRecoverSpecification:", "E3002"},
		{"reference to a missing resource", "TaskRoleArn: !GetAtt VpnGatewayTaskRole.Arn", "TaskRoleArn: !GetAtt VpnGatewayRole.Arn", "E"},
		{"invalid value", "      RetentionInDays: !FindInMap", "      RetentionInDays: 17\n      X: !FindInMap", "E"},
		{"wrong type", "      VisibilityTimeout: 60", "      VisibilityTimeout: [60]", "E3012"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if !strings.Contains(string(orig), c.old) {
				t.Fatalf("template no longer contains %q; update the case", c.old)
			}
			broken := writeTemp(t, "broken.yaml", strings.Replace(string(orig), c.old, c.new, 1))
			out, ok := runCfnLint(t, broken)
			if ok || !strings.Contains(out, c.want) {
				t.Fatalf("cfn-lint accepted a broken template (ok=%v):\n%s", ok, out)
			}
		})
	}
}
