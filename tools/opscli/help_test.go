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
		{nil, []string{"Exit codes:", "3    attention", "4    timed out", "status", "audit", "failures", "--prefix", "--env"}},
		{[]string{"status"}, []string{"simbridge status ICCID|IP", "concludes", "Exit code 3", "--skip-1nce"}},
		{[]string{"list"}, []string{"--state", "--since", "--never-fetched", "--sort", "page by page"}},
		{[]string{"export"}, []string{"CSV", "-o json"}},
		{[]string{"failures"}, []string{"redrive", "without\nconsuming", "--queue"}},
		{[]string{"failures", "redrive"}, []string{"StartMessageMoveTask", "--all", "stale"}},
		{[]string{"sync"}, []string{"--force", "--timeout", "message bus"}},
		{[]string{"reissue"}, []string{"REVOKED", "--reason", "--timeout"}},
		{[]string{"revoke"}, []string{"REVOKED", "enable"}},
		{[]string{"enable"}, []string{"1NCE", "fresh"}},
		{[]string{"audit"}, []string{"--fix", "record-without-thing", "orphan-certificate", "ListThingPrincipals", "13 minutes"}},
		{[]string{"ca", "init"}, []string{"KMS", "SSM", "deploy.sh"}},
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
