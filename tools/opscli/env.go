package opscli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
)

// Options are the global flags (each with a SIMBRIDGE_* environment variable).
type Options struct {
	Prefix      string
	Env         string
	EnvDir      string
	Region      string
	EndpointURL string
	Output      string
	Progress    string
	// Timeout is --timeout: the whole command's deadline (0: the command's
	// default).
	Timeout time.Duration
	// IoTRateLimits are client-side requests per second per IoT read
	// operation (the account's default quotas; the audit stays within them).
	IoTRateLimits map[string]float64

	// envFile is the environment file --env read; regionFrom says where
	// the region came from (for `context`).
	envFile    string
	regionFrom string
	in         io.Reader
	inTerminal bool
	getenv     func(string) string
	deadline   time.Duration
	cancel     context.CancelFunc
}

// DefaultIoTRateLimits are AWS IoT Core's default per-account quotas
// (requests per second) of the read operations simbridge calls. The
// audit's per-SIM lookups are bound by ListThingPrincipals and
// ListPrincipalThings (10/s each); operations the services also call
// (DescribeCertificate) get half, to leave them their share.
var DefaultIoTRateLimits = map[string]float64{
	"ListThingPrincipals":     10,
	"ListPrincipalThings":     10,
	"ListTargetsForPolicy":    10,
	"ListCertificatesByCA":    10,
	"ListCertificates":        10,
	"ListThings":              10,
	"ListThingsInThingGroup":  25,
	"ListThingGroupsForThing": 100,
	"ListAttachedPolicies":    15,
	"DescribeThing":           350,
	"DescribeCertificate":     5,
}

// session is one command's connection to an environment: its names, the
// AWS clients and the caller's identity.
type session struct {
	opts   *Options
	names  bootstrap.Names
	out    io.Writer
	errOut io.Writer
	now    func() time.Time

	cfg   aws.Config
	ddb   *dynamodb.Client
	sqs   *sqs.Client
	iot   *iot.Client
	sns   *sns.Client
	ssm   *ssm.Client
	store *simstore.Dynamo

	whoOnce sync.Once
	who     string
	whoErr  error
	// queues caches queue URLs by name.
	queues sync.Map
	// onceAnswers are sim-poller's answers about SIMs asked about at once
	// (a bulk enable), read-only once set.
	onceAnswers map[string]events.SIMOutcome
}

// resolvePrefix applies --env: the prefix and the region from the
// environment's file.
func (o *Options) resolvePrefix() error {
	if o.Env != "" {
		params, path, err := readEnvFile(o.EnvDir, o.Env)
		if err != nil {
			return err
		}
		o.envFile = path
		if o.Prefix == "" {
			o.Prefix = params["Prefix"]
		}
		if o.Prefix == "" {
			return usageError("--env %s: %s sets no Prefix", o.Env, path)
		}
		if r := params["AWS_REGION"]; r != "" && o.Region == "" {
			o.Region, o.regionFrom = r, path
		}
	}
	if o.Prefix == "" {
		return usageError("no environment: pass --prefix (or --env, or set SIMBRIDGE_PREFIX)")
	}
	return nil
}

// readEnvFile reads the Key=Value lines of an environment's file and
// returns them with the file's path.
func readEnvFile(dir, env string) (map[string]string, string, error) {
	if strings.ContainsAny(env, `/\`) || env == "." || env == ".." {
		return nil, "", usageError("--env %q: an environment name, not a path (use --env-dir for the folder)", env)
	}
	dirs := []string{dir}
	if dir == "" {
		dirs = envDirs()
	}
	var tried []string
	for _, d := range dirs {
		path := filepath.Join(d, env+".env")
		f, err := os.Open(path)
		if os.IsNotExist(err) {
			tried = append(tried, path)
			continue
		}
		if err != nil {
			return nil, "", usageError("--env %s: %v", env, err)
		}
		defer f.Close()
		params := map[string]string{}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if k, v, ok := strings.Cut(line, "="); ok {
				params[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
		return params, path, sc.Err()
	}
	return nil, "", usageError("--env %s: no environment file; looked for %s (pass --prefix, or --env-dir / SIMBRIDGE_ENV_DIR with the environments' files)",
		env, strings.Join(tried, ", "))
}

// envDirs are the folders --env looks in, in order: deployments/environments
// of the repository around the working directory, then of the repository
// around the simbridge binary (bin/simbridge of a checkout), then the
// user's configuration folder (~/.config/simbridge/environments).
func envDirs() []string {
	var out []string
	if wd, err := os.Getwd(); err == nil {
		if d := repoEnvDir(wd); d != "" {
			out = append(out, d)
		}
	}
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			if d := repoEnvDir(filepath.Dir(exe)); d != "" && (len(out) == 0 || out[0] != d) {
				out = append(out, d)
			}
		}
	}
	if cfg, err := os.UserConfigDir(); err == nil {
		out = append(out, filepath.Join(cfg, "simbridge", "environments"))
	}
	return out
}

// repoEnvDir is deployments/environments of the repository holding dir.
func repoEnvDir(dir string) string {
	for dir != "" {
		cand := filepath.Join(dir, "deployments", "environments")
		if st, err := os.Stat(cand); err == nil && st.IsDir() {
			return cand
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return ""
}

// connect loads the AWS configuration and builds the clients, then checks
// that the environment exists where they point (environment.go).
func connect(ctx context.Context, o *Options, out, errOut io.Writer) (*session, error) {
	s, err := dial(ctx, o, out, errOut)
	if err != nil {
		return nil, err
	}
	if err := s.checkEnvironment(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// dial loads the AWS configuration (the standard credential chain,
// --region, the environment file's AWS_REGION, AWS_ENDPOINT_URL or
// --endpoint-url, the fail-fast transport of netfail.go) and builds the
// clients, without checking the environment.
func dial(ctx context.Context, o *Options, out, errOut io.Writer) (*session, error) {
	if err := o.resolvePrefix(); err != nil {
		return nil, err
	}
	limits := o.IoTRateLimits
	if limits == nil {
		limits = DefaultIoTRateLimits
	}
	loadOpts := clientOptions(limits)
	if o.Region != "" {
		loadOpts = append(loadOpts, awsconfig.WithRegion(o.Region))
		if o.regionFrom == "" {
			o.regionFrom = "--region"
		}
		if env := o.getenv("AWS_REGION"); o.regionFrom != "--region" && env != "" && env != o.Region {
			fmt.Fprintf(errOut, "note: region %s from %s, not AWS_REGION=%s (--region overrides)\n", o.Region, o.regionFrom, env)
		}
	}
	if o.EndpointURL != "" {
		loadOpts = append(loadOpts, awsconfig.WithBaseEndpoint(o.EndpointURL))
	}
	cfg, err := loadConfig(ctx, loadOpts...)
	if err != nil {
		return nil, err
	}
	if o.regionFrom == "" {
		o.regionFrom = "AWS_REGION or the profile"
	}
	s := &session{opts: o, names: bootstrap.Names{Prefix: o.Prefix}, out: out, errOut: errOut, now: time.Now, cfg: cfg,
		ddb: dynamodb.NewFromConfig(cfg), sqs: sqs.NewFromConfig(cfg), iot: iot.NewFromConfig(cfg),
		sns: sns.NewFromConfig(cfg), ssm: ssm.NewFromConfig(cfg)}
	s.store = simstore.NewDynamo(s.ddb, s.names.Table())
	return s, nil
}

// identity is the caller's IAM identity (STS), named in every command's
// RequestedBy.
func (s *session) identity(ctx context.Context) (string, error) {
	s.whoOnce.Do(func() {
		out, err := sts.NewFromConfig(s.cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			s.whoErr = fmt.Errorf("who am I (STS GetCallerIdentity): %w", err)
			return
		}
		s.who = aws.ToString(out.Arn)
	})
	return s.who, s.whoErr
}

// account is the caller's account and partition.
func (s *session) account(ctx context.Context) (arn.ARN, error) {
	who, err := s.identity(ctx)
	if err != nil {
		return arn.ARN{}, err
	}
	id, err := arn.Parse(who)
	if err != nil {
		return arn.ARN{}, fmt.Errorf("caller ARN %q: %w", who, err)
	}
	return id, nil
}

// topicARN is the ARN of the environment's topic name.
func (s *session) topicARN(ctx context.Context, name string) (string, error) {
	id, err := s.account(ctx)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("arn:%s:sns:%s:%s:%s", id.Partition, s.cfg.Region, id.AccountID, name), nil
}

// where names the targeted environment for headers and errors.
func (s *session) where(ctx context.Context) string {
	acct := "?"
	if id, err := s.account(ctx); err == nil {
		acct = id.AccountID
	}
	return fmt.Sprintf("environment %s (account %s, region %s)", s.names.Prefix, acct, s.cfg.Region)
}

// header prints the targeted environment above a table.
func (s *session) header(ctx context.Context) {
	if s.opts.Output == FormatTable {
		fmt.Fprintln(s.out, s.where(ctx))
	}
}
