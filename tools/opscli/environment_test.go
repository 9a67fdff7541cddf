package opscli_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
	"github.com/simbridge/simbridge/tools/opscli"
)

// TestNeverAnswersForTheWrongEnvironment: a mistyped prefix, the wrong
// region (flag or AWS_REGION) or an environment missing a queue fails
// clearly, naming account, region and prefix, where `failures` used to
// answer "no messages" with exit 0; context shows what is targeted.
func TestNeverAnswersForTheWrongEnvironment(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bootstrap.Options{}, 1)
	dlq := e.queueURL(e.res.CreateDLQ())
	e.send(dlq, e.iccid(1), "x", `{"kind":"create","iccid":"`+e.iccid(1)+`"}`)
	e.run("failures").want(t, opscli.ExitAttention)

	for name, run := range map[string]func() result{
		"mistyped prefix": func() result {
			return e.runWith(runOpts{noBase: true}, "--prefix", e.res.Prefix+"x", "--endpoint-url", e.endpoint, "failures")
		},
		"--region":   func() result { return e.run("--region", "eu-west-1", "failures") },
		"AWS_REGION": func() result { return e.runWith(runOpts{env: []string{"AWS_REGION=eu-west-1"}}, "failures") },
	} {
		t.Run(name, func(t *testing.T) {
			r := run().want(t, opscli.ExitError)
			containsAll(t, r.stderr, "does not exist", "account 123456789012", "region ", "--prefix", "AWS_REGION")
			if r.stdout != "" {
				t.Errorf("answered for a missing environment:\n%s", r.stdout)
			}
		})
	}
	t.Run("eu-west-1 named", func(t *testing.T) {
		containsAll(t, e.run("--region", "eu-west-1", "list").want(t, opscli.ExitError).stderr, "region eu-west-1")
	})

	var c opscli.Context
	e.run("-o", "json", "context").want(t, opscli.ExitOK).json(t, &c)
	if c.Account != "123456789012" || c.Region != testkit.Region || c.Prefix != e.res.Prefix || !c.Exists || len(c.Resources) != 12 ||
		!strings.Contains(c.Caller, "arn:") || c.EndpointURL != e.endpoint {
		t.Fatalf("context %+v", c)
	}
	who := e.run("whoami").want(t, opscli.ExitOK)
	containsAll(t, who.stdout, "account", "123456789012", "region", testkit.Region, e.res.SyncDLQ(), "found")
	containsAll(t, e.run("list").want(t, opscli.ExitOK).stdout, "environment "+e.res.Prefix+" (account 123456789012, region "+testkit.Region+")")

	// one queue gone: incomplete, named
	if _, err := e.sqs.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: aws.String(e.queueURL(e.res.SyncDLQ()))}); err != nil {
		t.Fatal(err)
	}
	r := e.run("failures").want(t, opscli.ExitError)
	containsAll(t, r.stderr, "is incomplete", "missing queue "+e.res.SyncDLQ())
	containsAll(t, e.run("context").want(t, opscli.ExitError).stdout, e.res.SyncDLQ()+"  MISSING")
}

// TestEnvFromAnyDirectory: --env finds deployments/environments of the
// repository around the simbridge binary from any working directory, and
// the file's AWS_REGION wins over the shell's (with a note).
func TestEnvFromAnyDirectory(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bootstrap.Options{}, 1)
	repo := t.TempDir()
	envDir := filepath.Join(repo, "deployments", "environments")
	if err := os.MkdirAll(envDir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := "# test environment\nPrefix=" + e.res.Prefix + "\nAWS_REGION=" + testkit.Region + "\n"
	if err := os.WriteFile(filepath.Join(envDir, "lab.env"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(repo, "bin", "simbridge")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(testkit.Binary(t, "tools/cmd/simbridge"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, src, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--env", "lab", "--endpoint-url", e.endpoint, "context")
	cmd.Dir = t.TempDir() // nowhere near the repository
	cmd.Env = binaryEnv("AWS_REGION=eu-west-1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("simbridge --env lab context from elsewhere: %v\n%s", err, out)
	}
	containsAll(t, string(out), e.res.Prefix, filepath.Join(envDir, "lab.env"), "region", testkit.Region+" (from "+filepath.Join(envDir, "lab.env"),
		"not AWS_REGION=eu-west-1")
}

// TestFailsFastAndKeepsItsDeadline: an unreachable endpoint (refused, or a
// name that does not resolve) fails within seconds naming it; --timeout
// bounds the whole command, and a change that was sent says so.
func TestFailsFastAndKeepsItsDeadline(t *testing.T) {
	t.Parallel()
	for name, endpoint := range map[string]string{"refused": "http://127.0.0.1:1", "no such host": "http://simbridge-test.invalid:4566"} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			r := runBinary(t, runOpts{}, "--prefix", "p", "--endpoint-url", endpoint, "status", "8988280666000000001")
			if r.code != opscli.ExitError || !strings.Contains(r.stderr, `Could not connect to the endpoint URL: "`+endpoint+`/"`) {
				t.Fatalf("want the endpoint named, got %s", r)
			}
			if took := time.Since(start); took > 15*time.Second {
				t.Errorf("took %v to fail", took)
			}
		})
	}

	e := newEnv(t, bootstrap.Options{}, 1)
	e.startPoller()
	e.provisionWithout(t, e.iccid(1))
	start := time.Now()
	r := e.run("reissue", e.iccid(1), "--yes", "--timeout", "4s").want(t, opscli.ExitTimeout) // no provisioner runs
	if took := time.Since(start); took > 12*time.Second {
		t.Errorf("reissue --timeout 4s took %v", took)
	}
	containsAll(t, r.stderr, "--timeout 4s", "was sent (command op-", "may still run: simbridge status "+e.iccid(1))
	containsAll(t, e.run("sync", "--follow", "op-20260101T000000-000000000000", "--timeout", "2s").want(t, opscli.ExitTimeout).stderr,
		"may still run: simbridge sync --follow op-20260101T000000-000000000000")

	// slow answers: the deadline ends the command mid-call
	proxy := testkit.NewFaultProxy(t, e.endpoint)
	proxy.Set(&testkit.Fault{Operation: "GetItem", Every: 1, Delay: 15 * time.Second})
	start = time.Now()
	slow := runBinary(t, runOpts{}, "--prefix", e.res.Prefix, "--endpoint-url", proxy.URL, "status", e.iccid(1), "--skip-1nce", "--timeout", "3s")
	if slow.code != opscli.ExitTimeout || time.Since(start) > 10*time.Second {
		t.Fatalf("status --timeout 3s against a slow table: %s after %v", slow, time.Since(start))
	}
	containsAll(t, slow.stderr, "deadline (--timeout 3s)")
}

// provisionWithout writes an active record for the SIM as the provisioner
// would leave it, for tests that run no provisioner.
func (e *env) provisionWithout(t *testing.T, iccid string) {
	t.Helper()
	rec := activeRecord(iccid, "10.77.0.1")
	if _, err := e.store.Create(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
}

// TestVersion: --version names the build.
func TestVersion(t *testing.T) {
	t.Parallel()
	r := runBinary(t, runOpts{}, "--version").want(t, opscli.ExitOK)
	if !strings.HasPrefix(r.stdout, "simbridge ") || !strings.Contains(r.stdout, "go1.") {
		t.Fatalf("version: %s", r)
	}
}
