package opscli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
	"github.com/simbridge/simbridge/libs/testkit/oncesim"
	"github.com/simbridge/simbridge/tools/opscli"
)

func TestMain(m *testing.M) {
	// The command line loads the standard AWS configuration; the tests
	// point it at the emulator with --endpoint-url.
	for k, v := range map[string]string{"AWS_REGION": testkit.Region, "AWS_ACCESS_KEY_ID": "test",
		"AWS_SECRET_ACCESS_KEY": "test", "AWS_EC2_METADATA_DISABLED": "true"} {
		os.Setenv(k, v)
	}
	os.Unsetenv("AWS_PROFILE")
	os.Unsetenv("AWS_ENDPOINT_URL")
	os.Exit(testkit.Main(m))
}

const (
	onceUser     = "ops@example.com"
	oncePassword = "ops-test-password"
)

// env is one environment: its resources in the shared emulator, a 1NCE
// simulator, and the services the test starts.
type env struct {
	t        *testing.T
	n        int64
	endpoint string
	cfg      aws.Config
	res      bootstrap.Resources
	once     *oncesim.Server
	simURL   string
	store    *simstore.Dynamo
	iot      *iot.Client
	sqs      *sqs.Client
	logs     string
}

// envs numbers the environments of a test binary: Things are named by
// ICCID account-wide, so each environment's SIMs get ICCIDs of their own.
var envs atomic.Int64

// iccid is the ICCID of the environment's SIM i.
func (e *env) iccid(i int) string { return fmt.Sprintf("8988280666%04d%05d", e.n, i) }

// sim is SIM i of the simulated 1NCE account, at 10.77.0.i.
func (e *env) sim(i int) onceapi.SIM {
	return onceapi.SIM{ICCID: e.iccid(i), IMSI: fmt.Sprintf("9014051000%05d", i), MSISDN: fmt.Sprintf("8822851000%05d", i),
		Status: onceapi.StatusEnabled, IPAddress: fmt.Sprintf("10.77.0.%d", i), Label: fmt.Sprintf("device %d", i)}
}

// newEnv makes an environment whose 1NCE account holds SIMs 1 to n.
func newEnv(t *testing.T, opts bootstrap.Options, n int) *env {
	t.Helper()
	return newEnvOn(t, testkit.MotoEndpoint(t), opts, n)
}

// newEnvOn is newEnv in the emulator at endpoint (testkit.OwnMoto: an
// account of the test's own).
func newEnvOn(t *testing.T, endpoint string, opts bootstrap.Options, n int) *env {
	t.Helper()
	cfg := testkit.AWSConfigFor(t, endpoint)
	ctx := context.Background()
	res, err := bootstrap.Ensure(ctx, cfg, bootstrap.Names{Prefix: testkit.Name(t)}, opts)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, n: envs.Add(1), endpoint: endpoint, cfg: cfg, res: res, store: simstore.NewDynamo(dynamodb.NewFromConfig(cfg), res.Table()),
		iot: iot.NewFromConfig(cfg), sqs: sqs.NewFromConfig(cfg), logs: t.TempDir()}
	o := oncesim.DefaultOptions(onceUser, oncePassword)
	o.RateLimit = 0
	for i := 1; i <= n; i++ {
		o.SIMs = append(o.SIMs, e.sim(i))
	}
	e.once, err = oncesim.New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e.once.Handler())
	t.Cleanup(srv.Close)
	e.simURL = srv.URL + e.once.BasePath()
	return e
}

// result is one run of the command line.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// run runs the simbridge binary against the environment, with no stdin
// (not a terminal: a change needs --yes or --dry-run).
func (e *env) run(args ...string) result {
	e.t.Helper()
	return e.runWith(runOpts{}, args...)
}

// runOpts are how a run differs from the default.
type runOpts struct {
	stdin string
	// env adds variables to the binary's environment.
	env []string
	// noBase leaves out --prefix and --endpoint-url.
	noBase bool
}

func (e *env) runWith(o runOpts, args ...string) result {
	e.t.Helper()
	base := []string{"--prefix", e.res.Prefix, "--endpoint-url", e.endpoint, "--progress", "never"}
	if o.noBase {
		base = []string{"--progress", "never"}
	}
	return runBinary(e.t, o, append(base, args...)...)
}

// binaryEnv is the environment of every simbridge the tests run: the
// emulator's fake credentials and region, nothing of the test's own.
func binaryEnv(extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "AWS_REGION=" + testkit.Region,
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_EC2_METADATA_DISABLED=true"}, extra...)
}

// runBinary runs the built simbridge (tools/cmd/simbridge) with args.
func runBinary(t *testing.T, o runOpts, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testkit.Binary(t, "tools/cmd/simbridge"), args...)
	cmd.Env = binaryEnv(o.env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if o.stdin != "" {
		cmd.Stdin = strings.NewReader(o.stdin)
	}
	start := time.Now()
	err := cmd.Run()
	code := cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		t.Fatalf("simbridge %s: %v", strings.Join(args, " "), err)
	}
	t.Logf("simbridge %s: exit %d in %.1fs", strings.Join(args, " "), code, time.Since(start).Seconds())
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

func runCLI(t *testing.T, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	code := opscli.Run(ctx, args, &out, &errOut, func(string) string { return "" })
	t.Logf("simbridge %s: exit %d in %.1fs", strings.Join(args, " "), code, time.Since(start).Seconds())
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

// want fails the test unless the run ended with code.
func (r result) want(t *testing.T, code int) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("want exit %d, got %s", code, r)
	}
	return r
}

// json decodes the run's stdout.
func (r result) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("stdout is not JSON (%v):\n%s", err, r)
	}
}

// binary is the service's program ($BIN_DIR/<name> or a build shared by
// the package's tests).
func binary(t *testing.T, name string) string {
	t.Helper()
	return testkit.Binary(t, "services/"+name+"/cmd/"+name)
}

// service runs one of the services as its own process until stop or the
// end of the test; its log is printed when the test fails.
type service struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func (e *env) start(name string, extra ...string) *service {
	e.t.Helper()
	bin := binary(e.t, name)
	logPath := filepath.Join(e.logs, name+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		e.t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(append(append([]string{"PATH=" + os.Getenv("PATH")}, testkit.Env(e.endpoint)...), e.res.Env()...),
		append([]string{"OPS_ADDR=127.0.0.1:0", "SHUTDOWN_TIMEOUT=5s", "LOG_LEVEL=info", "WORKERS=4", "CLAIM_TTL=20s"}, extra...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	s := &service{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(s.done) }()
	e.t.Cleanup(func() {
		s.stop()
		if e.t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 15000 {
				b = b[len(b)-15000:]
			}
			e.t.Logf("%s log:\n%s", name, b)
		}
	})
	return s
}

func (s *service) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// startPoller runs sim-poller against the simulator: no schedule, only the
// sync requests simbridge sends.
func (e *env) startPoller() *service {
	return e.start("sim-poller", "ONCE_API_URL="+e.simURL, "ONCE_USERNAME="+onceUser, "ONCE_PASSWORD_VALUE="+oncePassword,
		"SYNC_ON_START=false", "SYNC_INTERVAL=1h", "HTTP_ADDR=127.0.0.1:0", "ONCE_RATE_LIMIT=100", "HINT_WINDOW=100ms")
}

// record reads a SIM record.
func (e *env) record(id string) simrec.Record {
	e.t.Helper()
	r, err := e.store.Get(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// provision enables the SIMs through the command line and the provisioner
// (sim-poller answers the lookups).
func (e *env) provision(ids ...string) {
	e.t.Helper()
	e.run(append([]string{"enable", "--yes"}, ids...)...).want(e.t, 0)
}

func containsAll(t *testing.T, text string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(text, p) {
			t.Errorf("output lacks %q:\n%s", p, text)
		}
	}
}

func itoa(n int) string { return fmt.Sprint(n) }

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// activeRecord is a SIM's record as the provisioner leaves it (a made-up
// certificate), for tests that need a record and no provisioner.
func activeRecord(iccid, ip string) simrec.Record {
	r := simrec.Record{ICCID: iccid, IP: ip, Status: onceapi.StatusEnabled, ThingName: iccid, LastCommand: "seed",
		Cert: &simrec.Credentials{ID: strings.Repeat("ab", 32), ARN: "arn:aws:iot:us-east-1:123456789012:cert/" + strings.Repeat("ab", 32),
			PEM: "-----BEGIN CERTIFICATE-----", KeyCiphertext: []byte{1}, Authority: simrec.AuthorityOwn, IssuedAt: time.Now().UTC()}}
	r.SetState(simrec.StateActive)
	return r
}
