// Package devstack runs the whole system on one machine without Docker:
// moto_server, the 1NCE simulator, the bootstrap and the five services as
// separate processes, each logging to its own file in one folder. `make run`
// and the end-to-end tests both use it.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
)

// Service names, in start order: consumers and the API before the poller
// that feeds them.
var Services = []string{"onboarding-api", "vpn-gateway", "provisioner", "deactivator", "sim-poller"}

// Options configure a stack.
type Options struct {
	// BinDir holds the built commands (the five services, oncesim and, with
	// FastSQS, sqsstub).
	BinDir string
	// LogDir receives one log file per process.
	LogDir string
	// Prefix names the AWS resources.
	Prefix string
	// SIMs, ICCIDPrefix, IPPattern and IPStart shape the simulator's
	// inventory (the prefix leaves 19 minus its length digits for a counter).
	SIMs        int
	ICCIDPrefix string
	IPPattern   string
	IPStart     int
	// SyncInterval is sim-poller's schedule.
	SyncInterval time.Duration
	// ShutdownTimeout is every service's SHUTDOWN_TIMEOUT.
	ShutdownTimeout time.Duration
	// Env adds or overrides environment variables per service.
	Env map[string][]string
	// FastSQS serves SQS from bin/sqsstub (in memory) instead of moto, for
	// the bootstrap and every service; the rest stays on moto. Benchmarks
	// need it: moto's FIFO queues cost O(n) per operation.
	FastSQS bool
	// NoDataStreamer leaves the simulator's Data Streamer off: changes then
	// reach the stack only through sim-poller's polls.
	NoDataStreamer bool
	// DynamoDBEndpoint, when set, keeps the tables there (for the bootstrap
	// and every service) instead of in moto: the scale benchmark's dynalite.
	DynamoDBEndpoint string
	// OnceRate is the simulator's rate limit in requests per second (100
	// when zero; 1NCE allows 10).
	OnceRate float64
	// KeyMode is the environment's KEY_MODE for the provisioner and
	// onboarding-api (empty: their default, server).
	KeyMode string
	// Progress receives one line per step (may be nil).
	Progress io.Writer
	// BeforeServices runs after the emulator, the bootstrap and the
	// simulator are up and before the services start: a benchmark puts a
	// fault proxy in front of the emulator there and changes Opts.Env.
	BeforeServices func(s *Stack) error
}

func (o Options) withDefaults() Options {
	if o.Prefix == "" {
		o.Prefix = "simbridge-local"
	}
	if o.SIMs == 0 {
		o.SIMs = 3
	}
	if o.ICCIDPrefix == "" {
		o.ICCIDPrefix = "8988280666000000"
	}
	if o.IPPattern == "" {
		o.IPPattern = "127.0.0.x"
	}
	if o.IPStart == 0 {
		o.IPStart = 2
	}
	if o.SyncInterval == 0 {
		o.SyncInterval = time.Minute
	}
	if o.ShutdownTimeout == 0 {
		o.ShutdownTimeout = 10 * time.Second
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.OnceRate == 0 {
		o.OnceRate = 100
	}
	return o
}

// Local credentials of the simulated 1NCE account.
const (
	OnceUser     = "demo@example.com"
	oncePassword = "local-demo-password"
	// IoTEndpoint is the IoT data endpoint devices are told (moto answers
	// DescribeEndpoint with a random host, so the stack fixes one).
	IoTEndpoint = "local-ats.iot.us-east-1.amazonaws.com"
	// StreamUser and streamPassword are the Data Streamer's Basic
	// credentials between the simulator and sim-poller's receiver.
	StreamUser     = "1nce-datastreamer"
	streamPassword = "local-stream-password"
	// StreamPath is where sim-poller's receiver takes Data Streamer posts.
	StreamPath = "/datastreamer"
)

// Stack is a running local system.
type Stack struct {
	Opts      Options
	Moto      *testkit.Moto
	Resources bootstrap.Resources
	// OnceAPIURL is the simulator's API base; OnceAdminURL its root for the admin API.
	OnceAPIURL   string
	OnceAdminURL string
	Simulator    *Proc
	Procs        map[string]*Proc
	// SQSStub is the in-memory SQS process with Options.FastSQS, else nil.
	SQSStub *Proc
	sqsURL  string
	// streamAddr is sim-poller's Data Streamer receiver ("" without one).
	streamAddr string
	// IoTEndpoint stands in for IoT Core's device endpoint (moto has none):
	// enrolled devices prove their certificate there with a TLS handshake.
	IoTEndpoint *testkit.IoTEndpoint
}

// StreamURL is sim-poller's Data Streamer receiver ("" when off).
func (s *Stack) StreamURL() string {
	if s.streamAddr == "" {
		return ""
	}
	return "http://" + s.streamAddr + StreamPath
}

// AWSEndpoint is the emulator's URL.
func (s *Stack) AWSEndpoint() string { return s.Moto.Endpoint }

// GatewayURL is the device-facing onboarding URL.
func (s *Stack) GatewayURL() string {
	return "http://" + s.Procs["vpn-gateway"].HTTPAddr + "/device-api/onboarding"
}

// CertificateURL is the device-facing enrolment URL (POST a CSR).
func (s *Stack) CertificateURL() string {
	return "http://" + s.Procs["vpn-gateway"].HTTPAddr + "/device-api/certificate"
}

// APIURL is onboarding-api's own onboarding URL (behind the API key).
func (s *Stack) APIURL() string {
	return "http://" + s.Procs["onboarding-api"].HTTPAddr + "/device-api/onboarding"
}

// SyncURL is sim-poller's POST /sync.
func (s *Stack) SyncURL() string { return "http://" + s.Procs["sim-poller"].HTTPAddr + "/sync" }

// Start brings the whole system up and returns once every service is ready.
// On error, whatever started is stopped again.
func Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	opts = opts.withDefaults()
	if err := os.MkdirAll(opts.LogDir, 0o755); err != nil {
		return nil, err
	}
	s := &Stack{Opts: opts, Procs: map[string]*Proc{}}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	if err := s.startMoto(ctx); err != nil {
		return nil, err
	}
	if err := s.startSQSStub(); err != nil {
		return nil, err
	}
	if err := s.bootstrap(ctx); err != nil {
		return nil, err
	}
	if err := s.startIoTEndpoint(ctx); err != nil {
		return nil, err
	}
	if !opts.NoDataStreamer {
		if s.streamAddr, err = freeAddr(); err != nil {
			return nil, err
		}
	}
	if err := s.startSimulator(); err != nil {
		return nil, err
	}
	if s.Opts.BeforeServices != nil {
		if s.Opts.Env == nil {
			s.Opts.Env = map[string][]string{}
		}
		if err := s.Opts.BeforeServices(s); err != nil {
			return nil, err
		}
	}
	for _, name := range Services {
		if err := s.startService(ctx, name); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Stack) progress(format string, args ...any) {
	fmt.Fprintf(s.Opts.Progress, format+"\n", args...)
}

func (s *Stack) startMoto(ctx context.Context) error {
	logf, err := os.Create(filepath.Join(s.Opts.LogDir, "moto.log"))
	if err != nil {
		return err
	}
	s.Moto, err = testkit.StartMoto(ctx, logf)
	if err != nil {
		return err
	}
	s.progress("AWS emulator (moto)   %s", s.Moto.Endpoint)
	return nil
}

// startIoTEndpoint serves the IoT endpoint stand-in: the account's CA,
// statuses from the emulator's registry.
func (s *Stack) startIoTEndpoint(ctx context.Context) error {
	cfg, err := testkit.LoadAWSConfig(ctx, s.Moto.Endpoint)
	if err != nil {
		return err
	}
	if s.IoTEndpoint, err = testkit.StartIoTEndpoint(s.Resources.CACertificatePEM, testkit.RegistryStatus(cfg)); err != nil {
		return fmt.Errorf("IoT endpoint stand-in: %w", err)
	}
	s.progress("IoT endpoint stand-in %s (TLS, client certificates of the account's CA, ACTIVE in the registry)", s.IoTEndpoint.Addr)
	return nil
}

func (s *Stack) bootstrap(ctx context.Context) error {
	cfg, err := testkit.LoadAWSConfig(ctx, s.Moto.Endpoint)
	if err != nil {
		return err
	}
	s.Resources, err = bootstrap.Ensure(ctx, cfg, bootstrap.Names{Prefix: s.Opts.Prefix}, bootstrap.Options{MaxReceiveCount: 5, SQSEndpoint: s.sqsURL,
		DynamoDBEndpoint: s.Opts.DynamoDBEndpoint})
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if err := s.storeOncePassword(ctx, cfg); err != nil {
		return err
	}
	s.progress("bootstrap             queues, topics, table %s, KMS key, IoT policy %s, API key secret", s.Resources.Table(), s.Resources.Policy())
	return nil
}

// OncePasswordSecret is the secret holding the simulated account's
// password, named as in AWS (<prefix>/once-password), where sim-poller's
// deployment reads it (the operators' command line never does).
func (s *Stack) OncePasswordSecret() string { return s.Opts.Prefix + "/once-password" }

func (s *Stack) storeOncePassword(ctx context.Context, cfg aws.Config) error {
	sm := secretsmanager.NewFromConfig(cfg)
	_, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(s.OncePasswordSecret()), SecretString: aws.String(oncePassword)})
	var exists *smtypes.ResourceExistsException
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("store the 1NCE password: %w", err)
	}
	return nil
}

// OperatorEnv is the environment that points the operators' command line
// (simbridge) at this stack: the emulator and the prefix (1NCE it asks
// through sim-poller).
func (s *Stack) OperatorEnv() []string {
	return append(testkit.Env(s.Moto.Endpoint), "SIMBRIDGE_PREFIX="+s.Opts.Prefix)
}

func (s *Stack) startSimulator() error {
	pr, pw := io.Pipe()
	args := []string{"-listen", "127.0.0.1:0", "-user", OnceUser, "-count", strconv.Itoa(s.Opts.SIMs), "-iccid-prefix", s.Opts.ICCIDPrefix,
		"-ip-pattern", s.Opts.IPPattern, "-ip-start", strconv.Itoa(s.Opts.IPStart),
		"-rate-limit", strconv.FormatFloat(s.Opts.OnceRate, 'f', -1, 64), "-rate-burst", strconv.FormatFloat(max(s.Opts.OnceRate, 10), 'f', 0, 64)}
	env := []string{"ONCESIM_PASSWORD=" + oncePassword}
	if s.streamAddr != "" {
		// The receiver comes up after the simulator: batches sent before
		// are retried, as 1NCE does.
		args = append(args, "-stream-url", s.StreamURL(), "-stream-user", StreamUser, "-stream-interval", "250ms")
		env = append(env, "ONCESIM_STREAM_PASSWORD="+streamPassword)
	}
	p, err := startProc("oncesim", filepath.Join(s.Opts.BinDir, "oncesim"), args, env, filepath.Join(s.Opts.LogDir, "oncesim.log"), pw)
	if err != nil {
		return err
	}
	s.Simulator = p
	line, err := readLine(pr, 10*time.Second)
	if err != nil {
		return fmt.Errorf("simulator: %w: %s", err, tail(p.LogPath, 5))
	}
	url, ok := strings.CutPrefix(line, "oncesim listening on ")
	if !ok {
		return fmt.Errorf("simulator printed %q", line)
	}
	s.OnceAPIURL = url
	s.OnceAdminURL = strings.TrimSuffix(url, "/management-api")
	s.progress("1NCE simulator        %s (%d SIMs on %s from .%d)", url, s.Opts.SIMs, s.Opts.IPPattern, s.Opts.IPStart)
	if s.streamAddr != "" {
		s.progress("1NCE Data Streamer    posts to %s (sim-poller's receiver)", s.StreamURL())
	}
	return nil
}

func (s *Stack) startService(ctx context.Context, name string) error {
	_, err := s.StartReplica(ctx, name, name)
	return err
}

// StartReplica starts one more process of a service, registered as key in
// Procs (several provisioner tasks sharing one account, say).
func (s *Stack) StartReplica(ctx context.Context, name, key string) (*Proc, error) {
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	opsAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	env := append(append(testkit.Env(s.Moto.Endpoint), s.Resources.Env()...), s.serviceEnv(name, httpAddr, opsAddr)...)
	env = append(append(env, s.sqsEnv()...), s.dynamoEnv()...)
	env = append(env, s.Opts.Env[name]...)
	start := time.Now()
	p, err := startProc(key, filepath.Join(s.Opts.BinDir, name), nil, env, filepath.Join(s.Opts.LogDir, key+".log"), nil)
	if err != nil {
		return nil, err
	}
	p.HTTPAddr, p.OpsAddr = httpAddr, opsAddr
	s.Procs[key] = p
	if err := p.waitReady(ctx, 20*time.Second); err != nil {
		return nil, err
	}
	p.ReadyAfter = time.Since(start)
	s.progress("%-21s ready in %.2f s, RSS %.1f MB, ops http://%s", key, p.ReadyAfter.Seconds(), p.RSSMB(), opsAddr)
	return p, nil
}

// serviceEnv is the per-service part of the environment.
func (s *Stack) serviceEnv(name, httpAddr, opsAddr string) []string {
	env := []string{"OPS_ADDR=" + opsAddr, "SHUTDOWN_TIMEOUT=" + s.Opts.ShutdownTimeout.String(), "LOG_LEVEL=info"}
	switch name {
	case "sim-poller":
		env = append(env, "HTTP_ADDR="+httpAddr, "ONCE_API_URL="+s.OnceAPIURL, "ONCE_USERNAME="+OnceUser,
			"ONCE_PASSWORD_VALUE="+oncePassword, "SYNC_INTERVAL="+s.Opts.SyncInterval.String())
		if s.streamAddr != "" {
			env = append(env, "STREAM_ADDR="+s.streamAddr, "STREAM_PATH="+StreamPath, "STREAM_AUTH_VALUE="+StreamUser+":"+streamPassword)
		}
	case "onboarding-api":
		env = append(env, "HTTP_ADDR="+httpAddr, "IOT_ENDPOINT="+IoTEndpoint)
		if s.Opts.KeyMode != "" {
			env = append(env, "KEY_MODE="+s.Opts.KeyMode)
		}
	case "vpn-gateway":
		env = append(env, "LISTEN_ADDR="+httpAddr, "UPSTREAM_URL=http://"+s.Procs["onboarding-api"].HTTPAddr,
			"TUNNEL_MODE=none", "ENDPOINT_PARAMETER="+s.Resources.EndpointParameter())
	case "provisioner", "deactivator":
		env = append(env, "WORKERS=4")
		if name == "provisioner" && s.Opts.KeyMode != "" {
			env = append(env, "KEY_MODE="+s.Opts.KeyMode)
		}
	}
	return env
}

// Sync asks sim-poller for a run now and returns its JSON summary.
func (s *Stack) Sync(ctx context.Context) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.SyncURL(), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("POST /sync: %d %s", resp.StatusCode, b)
	}
	return string(b), nil
}

// Stop terminates the services (poller first), the simulator and moto, and
// reports every service that did not exit 0 within its shutdown timeout.
func (s *Stack) Stop() error {
	var errs []error
	for key, p := range s.Procs { // replicas first
		if !slices.Contains(Services, key) && !p.Exited() {
			if _, err := p.Terminate(s.Opts.ShutdownTimeout + 5*time.Second); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for i := len(Services) - 1; i >= 0; i-- {
		if p, ok := s.Procs[Services[i]]; ok && !p.Exited() {
			if _, err := p.Terminate(s.Opts.ShutdownTimeout + 5*time.Second); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if s.Simulator != nil && !s.Simulator.Exited() {
		if _, err := s.Simulator.Terminate(10 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	if s.SQSStub != nil && !s.SQSStub.Exited() {
		if _, err := s.SQSStub.Terminate(10 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	if s.IoTEndpoint != nil {
		_ = s.IoTEndpoint.Close()
	}
	_ = s.Moto.Stop()
	return errors.Join(errs...)
}

func freeAddr() (string, error) {
	port, err := testkit.FreePort()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("127.0.0.1:%d", port), nil
}

// dynamoEnv sends a service's DynamoDB client to DynamoDBEndpoint (nothing
// without one).
func (s *Stack) dynamoEnv() []string {
	if s.Opts.DynamoDBEndpoint == "" {
		return nil
	}
	return []string{"AWS_ENDPOINT_URL_DYNAMODB=" + s.Opts.DynamoDBEndpoint}
}
