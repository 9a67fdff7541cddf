package opscli_test

import (
	"strings"
	"testing"

	"github.com/simbridge/simbridge/tools/opscli"
)

// TestHelpEverywhere: every command answers --help with its usage, what it
// does and examples, exit code 0, and the root help documents the exit codes.
func TestHelpEverywhere(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args []string
		want []string
	}{
		{nil, []string{"Exit codes:", "3    attention", "4    timed out", "status", "audit", "failures", "context", "--prefix", "--env",
			"--region", "--timeout", "SIMBRIDGE_ENV_DIR", "--dry-run", "--yes", "holds no 1NCE credential"}},
		{[]string{"context"}, []string{"account", "region", "found or missing", "whoami"}},
		{[]string{"status"}, []string{"simbridge status ICCID|IP", "concludes", "Exit code 3", "--skip-1nce", "-f, --file", "sim-poller"}},
		{[]string{"list"}, []string{"--state", "--since", "--never-fetched", "--sort", "page by page"}},
		{[]string{"export"}, []string{"CSV", "-o json"}},
		{[]string{"failures"}, []string{"redrive", "without\nconsuming", "--queue", "delete", "NotVisible"}},
		{[]string{"failures", "redrive"}, []string{"at\nmost once", "--all", "--id", "--include-invalid", "stale", "--dry-run", "--yes"}},
		{[]string{"failures", "delete"}, []string{"--id", "--all", "--dry-run", "--yes"}},
		{[]string{"sync"}, []string{"--force", "--timeout", "message bus", "--follow", "--dry-run"}},
		{[]string{"reissue"}, []string{"REVOKED", "--reason", "--timeout", "--dry-run", "--yes", "-f, --file"}},
		{[]string{"revoke"}, []string{"REVOKED", "enable", "--dry-run", "--yes"}},
		{[]string{"enable"}, []string{"1NCE", "fresh", "conflict", "--dry-run"}},
		{[]string{"audit"}, []string{"--fix", "record-without-thing", "orphan-certificate", "invalid-ip-in-1nce", "ListThingPrincipals",
			"13 minutes", "--kind", "--iccid", "--max-changes", "--force", "--dry-run"}},
		{[]string{"ca", "init"}, []string{"KMS", "SSM", "deploy.sh", "does not exist", "--dry-run", "--yes"}},
		{[]string{"ca", "show"}, []string{"validity", "KMS"}},
	}
	for _, c := range cases {
		name := strings.Join(c.args, " ")
		if name == "" {
			name = "root"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, flag := range []string{"--help", "-h"} {
				r := runCLI(t, append(c.args, flag)...).want(t, opscli.ExitOK)
				containsAll(t, r.stdout, append([]string{"Usage:"}, c.want...)...)
			}
		})
	}
}

// TestUsageErrorsExit2: what the command line cannot understand exits 2
// before anything is called.
func TestUsageErrorsExit2(t *testing.T) {
	t.Parallel()
	for name, args := range map[string][]string{
		"unknown command":      {"frobnicate"},
		"unknown flag":         {"list", "--colour"},
		"bad output":           {"--prefix", "p", "-o", "yaml", "list"},
		"bad progress":         {"--prefix", "p", "--progress", "sometimes", "list"},
		"status without arg":   {"--prefix", "p", "status"},
		"bad state":            {"--prefix", "p", "list", "--state", "sleepy"},
		"bad sort":             {"--prefix", "p", "list", "--sort", "colour"},
		"not an iccid":         {"--prefix", "p", "revoke", "123"},
		"redrive needs a goal": {"--prefix", "p", "failures", "redrive"},
		"redrive both":         {"--prefix", "p", "failures", "redrive", "--all", "89882806660777000001"},
		"delete needs a goal":  {"--prefix", "p", "failures", "delete"},
		"short message id":     {"--prefix", "p", "failures", "delete", "--id", "4f2a"},
		"bad queue":            {"--prefix", "p", "failures", "--queue", "create-dlq"},
		"revoke needs SIMs":    {"--prefix", "p", "revoke"},
		"bad line in -f":       {"--prefix", "p", "status", "-f", "testdata/bad-targets.txt"},
		"no such -f file":      {"--prefix", "p", "revoke", "-f", "/nonexistent/list"},
		"bad audit kind":       {"--prefix", "p", "audit", "--kind", "colour"},
		"dry run without fix":  {"--prefix", "p", "audit", "--dry-run"},
		"follow with iccids":   {"--prefix", "p", "sync", "--follow", "op-1", "89882806660777000001"},
		"env as a path":        {"--env", "../staging", "list"},
		"force with iccids":    {"--prefix", "p", "sync", "--force", "89882806660777000001"},
		"no environment":       {"list"},
		"bad rate limits":      {"--prefix", "p", "--iot-rate-limits", "ListThings", "audit"},
		"unknown env":          {"--env", "nowhere", "--env-dir", "/nonexistent", "list"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, args...).want(t, opscli.ExitUsage)
			if !strings.HasPrefix(r.stderr, "simbridge: ") || r.stdout != "" {
				t.Errorf("want the error on stderr only:\n%s", r)
			}
		})
	}
}

// TestCompletesFlagValues: shell completion offers the values of the
// flags that take a fixed set.
func TestCompletesFlagValues(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"list", "--state", ""}, []string{"active", "disabled", "pending", "revoked", "failed"}},
		{[]string{"list", "--sort", ""}, []string{"iccid", "ip", "updated", "fetched"}},
		{[]string{"list", "-o", ""}, []string{"table", "json", "csv"}},
		{[]string{"failures", "--queue", ""}, []string{"create", "update", "disable", "sync"}},
		{[]string{"failures", "redrive", "--queue", ""}, []string{"create", "update", "disable", "sync"}},
		{[]string{"audit", "--kind", ""}, []string{"ip-conflict", "invalid-ip-in-1nce", "orphan-certificate"}},
		{[]string{"status", "--progress", ""}, []string{"auto", "always", "never"}},
	} {
		r := runCLI(t, append([]string{"__complete"}, c.args...)...).want(t, opscli.ExitOK)
		containsAll(t, r.stdout, c.want...)
		if strings.Contains(r.stdout, "--") {
			t.Errorf("%v completes flags, not values:\n%s", c.args, r.stdout)
		}
	}
}
