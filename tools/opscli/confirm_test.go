package opscli_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/creack/pty"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
	"github.com/simbridge/simbridge/tools/opscli"
)

// terminal runs simbridge on a pseudo-terminal, as an operator would: it
// returns the session once the binary printed until (the question), so the
// test can answer it.
type terminal struct {
	cmd *exec.Cmd
	tty io.ReadWriteCloser
	mu  sync.Mutex
	out strings.Builder
}

func (e *env) onTerminal(t *testing.T, args ...string) *terminal {
	t.Helper()
	base := []string{"--prefix", e.res.Prefix, "--endpoint-url", e.endpoint, "--progress", "never"}
	cmd := exec.Command(testkit.Binary(t, "tools/cmd/simbridge"), append(base, args...)...)
	cmd.Env = binaryEnv()
	tty, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	term := &terminal{cmd: cmd, tty: tty}
	go func() {
		r := bufio.NewReader(tty)
		for {
			chunk, err := r.ReadString(' ')
			term.mu.Lock()
			term.out.WriteString(chunk)
			term.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = tty.Close() })
	return term
}

// await waits until the output shows s.
func (term *terminal) await(t *testing.T, s string) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, "the terminal shows "+s, func() error {
		if !strings.Contains(term.text(), s) {
			return errors.New("not yet:\n" + term.text())
		}
		return nil
	})
}

func (term *terminal) text() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.out.String()
}

// answer types a line and waits for the command's exit code.
func (term *terminal) answer(t *testing.T, line string) int {
	t.Helper()
	if _, err := io.WriteString(term.tty, line+"\r"); err != nil {
		t.Fatal(err)
	}
	_ = term.cmd.Wait()
	return term.cmd.ProcessState.ExitCode()
}

// waiting counts the messages in a queue (visible and in flight).
func (e *env) waiting(t *testing.T, name string) int {
	t.Helper()
	n, err := queueDepth(e, e.queueURL(name))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestChangesAskFirst: on a terminal a change shows what it will do and
// asks; "n" changes nothing, "y" sends it; --dry-run prints the plan and
// sends nothing; without a terminal and without --yes it refuses. Lists of
// SIMs come from -f (a file or stdin, ICCIDs or IPs).
func TestChangesAskFirst(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bootstrap.Options{}, 3)
	for i := 1; i <= 3; i++ {
		rec := activeRecord(e.iccid(i), e.sim(i).IPAddress)
		if _, err := e.store.Create(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
	}
	disable := e.res.DisableQueue()

	term := e.onTerminal(t, "revoke", e.iccid(1), "--no-wait")
	term.await(t, "Proceed? [y/N]")
	containsAll(t, term.text(), "about to revoke 1 SIM(s)", "environment "+e.res.Prefix, "revoke", e.iccid(1), disable, "record version 1")
	if code := term.answer(t, "n"); code != opscli.ExitError || e.waiting(t, disable) != 0 {
		t.Fatalf("declined: exit %d, %d commands sent:\n%s", code, e.waiting(t, disable), term.text())
	}
	term = e.onTerminal(t, "revoke", e.iccid(1), "--no-wait")
	term.await(t, "Proceed? [y/N]")
	if code := term.answer(t, "y"); code != opscli.ExitOK || e.waiting(t, disable) != 1 {
		t.Fatalf("confirmed: exit %d, %d commands sent:\n%s", code, e.waiting(t, disable), term.text())
	}

	var plan opscli.Plan
	e.run("-o", "json", "revoke", e.iccid(2), e.sim(3).IPAddress, "--dry-run").want(t, opscli.ExitOK).json(t, &plan)
	if !plan.DryRun || len(plan.Steps) != 2 || plan.Steps[0].Target != e.iccid(2) || plan.Steps[1].Target != e.iccid(3) ||
		plan.Steps[0].Action != string(events.KindRevoke) || e.waiting(t, disable) != 1 {
		t.Fatalf("dry run: %+v, %d commands sent", plan, e.waiting(t, disable))
	}
	refused := e.run("revoke", e.iccid(2), "--no-wait").want(t, opscli.ExitUsage)
	containsAll(t, refused.stderr, "asks before it changes anything", "stdin is not a terminal", "--yes")

	list := e.iccid(2) + "\n# the SIM at 10.77.0.3\n" + e.sim(3).IPAddress + "\n"
	e.runWith(runOpts{stdin: list}, "revoke", "-f", "-", "--no-wait").want(t, opscli.ExitUsage)
	r := e.runWith(runOpts{stdin: list}, "revoke", "-f", "-", "--no-wait", "--yes").want(t, opscli.ExitOK)
	containsAll(t, r.stdout, "revoke "+e.iccid(2)+": sent", "revoke "+e.iccid(3)+": sent")
	if n := e.waiting(t, disable); n != 3 {
		t.Fatalf("%d commands after the bulk revoke, want 3", n)
	}
	var st []opscli.SIMStatus
	// (their made-up certificates are in no IoT Core: drift, exit 3)
	e.runWith(runOpts{stdin: list}, "-o", "json", "status", "-f", "-", "--skip-1nce").want(t, opscli.ExitAttention).json(t, &st)
	if len(st) != 2 || st[0].ICCID != e.iccid(2) || st[1].ICCID != e.iccid(3) {
		t.Fatalf("bulk status: %+v", st)
	}
}

// TestInterruptedAfterSendingSaysSo: Ctrl-C while waiting for a command
// that was sent says so and how to follow it, and removes the queue the
// command subscribed to the failure topic; one left behind by a killed run
// is removed by the next.
func TestInterruptedAfterSendingSaysSo(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bootstrap.Options{}, 1)
	if _, err := e.store.Create(context.Background(), activeRecord(e.iccid(1), "10.77.0.1")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	stale, err := e.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(e.res.Prefix + "-ops-1600000000-deadbeef")})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testkit.Binary(t, "tools/cmd/simbridge"), "--prefix", e.res.Prefix, "--endpoint-url", e.endpoint, "--progress", "never",
		"revoke", e.iccid(1), "--yes")
	cmd.Env = binaryEnv()
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, "the revoke sent", func() error {
		if e.waiting(t, e.res.DisableQueue()) != 1 {
			return errors.New("not sent yet")
		}
		return nil
	})
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != opscli.ExitInterrupted {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errOut.String())
	}
	containsAll(t, errOut.String(), "interrupted", "was sent (command op-", "simbridge status "+e.iccid(1), "left behind by an earlier simbridge run")
	left, err := e.sqs.ListQueues(ctx, &sqs.ListQueuesInput{QueueNamePrefix: aws.String(e.res.Prefix + "-ops-")})
	if err != nil {
		t.Fatal(err)
	}
	if len(left.QueueUrls) != 0 {
		t.Fatalf("queues left: %v (the stale one was %s)", left.QueueUrls, *stale.QueueUrl)
	}
}

// TestCAInitRefusesWhatDoesNotExist: `ca init` with a mistyped prefix
// creates nothing (no key, no CA, no parameter); on a real environment it
// shows its plan, then sets the CA up once; `ca show` prints it.
func TestCAInitRefusesWhatDoesNotExist(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bootstrap.Options{}, 1)
	// the environment as before its CA setup: no parameter for the provisioner
	if _, err := ssm.NewFromConfig(e.cfg).DeleteParameter(context.Background(), &ssm.DeleteParameterInput{Name: aws.String(e.res.CAParameter())}); err != nil {
		t.Fatal(err)
	}
	typo := e.res.Prefix + "-stagign"
	r := e.runWith(runOpts{noBase: true}, "--prefix", typo, "--endpoint-url", e.endpoint, "ca", "init", "--yes").want(t, opscli.ExitError)
	containsAll(t, r.stderr, "environment "+typo, "does not exist")
	_, err := kms.NewFromConfig(e.cfg).DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String("alias/" + typo + "-iot-ca")})
	var nf *kmstypes.NotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("a key for the mistyped environment: %v", err)
	}

	e.run("ca", "show").want(t, opscli.ExitAttention)
	var plan opscli.Plan
	e.run("-o", "json", "ca", "init", "--dry-run").want(t, opscli.ExitOK).json(t, &plan)
	if len(plan.Steps) < 2 {
		t.Fatalf("plan %+v", plan)
	}
	e.run("ca", "init").want(t, opscli.ExitUsage)
	e.run("ca", "init", "--yes").want(t, opscli.ExitOK)
	var ca opscli.CAInfo
	e.run("-o", "json", "ca", "show").want(t, opscli.ExitOK).json(t, &ca)
	if ca.Status != "ACTIVE" || ca.CertificateID == "" || ca.KeyARN == "" || ca.KeyState != "Enabled" || ca.NotAfter.Before(time.Now().AddDate(20, 0, 0)) {
		t.Fatalf("ca show: %+v", ca)
	}
	again := e.run("ca", "init").want(t, opscli.ExitOK) // nothing to do: no question
	containsAll(t, again.stderr, "nothing to do")
	containsAll(t, again.stdout, ca.CertificateID, "ACTIVE")
}

func queueDepth(e *env, url string) (int, error) {
	for _, want := range []int{0, 1, 2, 3, 4, 5} {
		if depthIs(e, url, want) == nil {
			return want, nil
		}
	}
	return -1, errors.New("more than 5 messages or some in flight")
}
