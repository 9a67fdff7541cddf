package service_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/simbridge/simbridge/libs/awsx"
	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/logging"
	"github.com/simbridge/simbridge/libs/messaging"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
	"github.com/simbridge/simbridge/services/provisioner/internal/service"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

// authorities are the two certificate authorities every invariant test runs with.
var authorities = []string{simrec.AuthorityOwn, simrec.AuthorityAWS}

// account is one emulator with the system's resources, reached directly
// (for assertions) and through a fault proxy (for the service).
type account struct {
	endpoint string
	cfg      aws.Config
	res      bootstrap.Resources
	proxy    *testkit.FaultProxy
	check    *testkit.Provisioning
}

func newAccount(t *testing.T, opts bootstrap.Options, seed ...uint64) account {
	t.Helper()
	return newAccountOn(t, testkit.OwnMoto(t), opts, seed...)
}

// newAccountOn sets the system's resources up (with a prefix of the test's
// own) on an emulator several tests share.
func newAccountOn(t *testing.T, endpoint string, opts bootstrap.Options, seed ...uint64) account {
	t.Helper()
	cfg := testkit.AWSConfigFor(t, endpoint)
	res, err := bootstrap.Ensure(context.Background(), cfg, bootstrap.Names{Prefix: testkit.Name(t)}, opts)
	if err != nil {
		t.Fatal(err)
	}
	check := testkit.NewProvisioning(cfg, res.Table(), res.Policy())
	check.CA = res.CACertificatePEM
	return account{endpoint: endpoint, cfg: cfg, res: res, proxy: testkit.NewFaultProxy(t, endpoint, seed...), check: check}
}

// options of an in-process provisioner.
type options struct {
	workers   int
	authority string
	// maxAttempts is AWS_MAX_ATTEMPTS (default 10).
	maxAttempts int
	// keyMode is KEY_MODE (default server).
	keyMode simrec.KeyMode
}

// startProvisioner runs the provisioner in-process against the fault proxy
// until the test ends.
func startProvisioner(t *testing.T, a account, o options) {
	t.Helper()
	if o.authority == "" {
		o.authority = simrec.AuthorityOwn
	}
	if o.maxAttempts == 0 {
		o.maxAttempts = 10
	}
	if o.keyMode == "" {
		o.keyMode = simrec.KeyModeServer
	}
	awsCfg, err := testkit.LoadAWSConfig(context.Background(), a.proxy.URL,
		awsx.RetrySettings{RetryMode: "standard", MaxAttempts: o.maxAttempts}.Option())
	if err != nil {
		t.Fatal(err)
	}
	cfg := service.Config{
		ConsumerSettings: messaging.ConsumerSettings{OpsAddr: "127.0.0.1:0", ShutdownTimeout: 10 * time.Second, LeaseTable: a.res.Leases()},
		CreateQueue:      a.res.CreateQueue(),
		UpdateQueue:      a.res.UpdateQueue(),
		UpdateWorkers:    2,
		SimTable:         a.res.Table(), KMSKeyID: a.res.KeyARN, IoTPolicyName: a.res.Policy(),
		SuccessTopicARN: a.res.SuccessTopicARN, FailureTopicARN: a.res.FailureTopicARN,
		RegistrationTopic: "registration", Workers: o.workers, CertAuthority: o.authority, ThingGroup: a.res.ThingGroup(), ThingType: a.res.ThingType(),
		CAKeyID: a.res.CAKeyARN, CAParameter: a.res.CAParameter(), DeviceKeyType: "rsa2048",
		CertValidity: 24 * time.Hour, ClaimTTL: time.Minute, KeyModeSetting: simrec.KeyModeSetting{KeyMode: o.keyMode},
	}
	logger := logging.New(testWriter{t}, "provisioner", slog.LevelWarn)
	reg := prometheus.NewRegistry()
	paced, err := cfg.ShareQuotas(awsCfg, service.IoTOperations, reg, logger)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- service.Serve(ctx, cfg, paced, service.NewMetrics(reg), logger) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("provisioner stopped with %v", err)
		}
	})
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func iccid(i int) string { return fmt.Sprintf("89882806660%08d", i) }

func create(id string, ip string) events.SimCommand {
	return events.SimCommand{Kind: events.KindCreate, ICCID: id, IP: ip, Status: "Enabled", ObservedAt: time.Now()}
}

// publish sends commands to their queues (as sim-poller and operators do).
func publish(t *testing.T, a account, cmds ...events.SimCommand) {
	t.Helper()
	pub := messaging.NewSQSPublisher(a.cfg, slog.New(slog.DiscardHandler))
	for _, c := range cmds {
		msg, err := messaging.NewCommandMessage(c)
		if err != nil {
			t.Fatal(err)
		}
		queue := map[events.QueueName]string{events.CreateQueue: a.res.CreateQueue(), events.UpdateQueue: a.res.UpdateQueue(),
			events.DisableQueue: a.res.DisableQueue()}[c.Kind.Queue()]
		if err := pub.Publish(queue, msg); err != nil {
			t.Fatal(err)
		}
	}
}

// eventually retries check until it passes or limit passes.
func eventually(t *testing.T, limit time.Duration, what string, check func() error) {
	t.Helper()
	testkit.Eventually(t, limit, what, check)
}

// allActive waits until every SIM satisfies the invariant.
func allActive(t *testing.T, a account, ids []string, limit time.Duration) {
	t.Helper()
	eventually(t, limit, "every SIM provisioned correctly", func() error {
		for _, id := range ids {
			if err := a.check.Active(context.Background(), id); err != nil {
				return err
			}
		}
		return nil
	})
}

// holds checks the invariant over the whole account; with the own CA no
// certificate may exist that no record names (ignoring foreign ones).
func holds(t *testing.T, a account, authority string, foreign map[string]bool) testkit.Report {
	t.Helper()
	rep, err := a.check.Check(context.Background(), foreign)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range rep.Violations {
		t.Errorf("invariant: %v", v)
	}
	if authority == simrec.AuthorityOwn && len(rep.Orphans) > 0 {
		t.Errorf("own CA: %d certificates no record names: %v", len(rep.Orphans), rep.Orphans)
	}
	return rep
}

// queueEmpty waits until a queue has no message left, visible or in flight.
func queueEmpty(t *testing.T, a account, url string, limit time.Duration) {
	t.Helper()
	q := sqs.NewFromConfig(a.cfg)
	eventually(t, limit, "queue drained", func() error {
		out, err := q.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
		if err != nil {
			return err
		}
		for k, v := range out.Attributes {
			if v != "0" {
				return fmt.Errorf("%s=%s", k, v)
			}
		}
		return nil
	})
}

// drained waits until the create queue and the update lane are empty.
func drained(t *testing.T, a account) {
	t.Helper()
	queueEmpty(t, a, a.res.CreateQueueURL, time.Minute)
	queueEmpty(t, a, a.res.UpdateQueueURL, time.Minute)
}

// dlqEmpty fails the test when a dead-letter queue holds messages.
func dlqEmpty(t *testing.T, a account) {
	t.Helper()
	q := sqs.NewFromConfig(a.cfg)
	for _, url := range []string{a.res.CreateDLQURL, a.res.UpdateDLQURL, a.res.DisableDLQURL} {
		if dead := testkit.DrainQueue(t, q, url, time.Second); len(dead) != 0 {
			t.Errorf("%d commands in a DLQ: %.300q", len(dead), dead)
		}
	}
}

// binary is the service's program ($BIN_DIR/<name> or a build shared by
// the package's tests).
func binary(t *testing.T, name string) string {
	t.Helper()
	return testkit.Binary(t, "services/"+name+"/cmd/"+name)
}

// proc is a service running as its own process.
type proc struct {
	cmd  *exec.Cmd
	done chan error
}

// startBinary starts a service process with env, logging to logPath.
func startBinary(t *testing.T, bin string, env []string, logPath string) *proc {
	t.Helper()
	testkit.SkipShort(t)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); logf.Close() }()
	t.Cleanup(func() { p.kill() })
	return p
}

// kill sends SIGKILL and waits for the process.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
	p.done <- nil
}

// serviceEnv is what a service process needs to reach the account's
// resources through endpoint.
func serviceEnv(a account, endpoint string, extra ...string) []string {
	env := append(testkit.Env(endpoint), a.res.Env()...)
	return append(env, append([]string{"OPS_ADDR=127.0.0.1:0", "SHUTDOWN_TIMEOUT=5s", "LOG_LEVEL=warn"}, extra...)...)
}

// logOnFailure prints a process log when the test failed.
func logOnFailure(t *testing.T, path string) {
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(path)
			if len(b) > 20000 {
				b = b[len(b)-20000:]
			}
			t.Logf("%s:\n%s", filepath.Base(path), b)
		}
	})
}
