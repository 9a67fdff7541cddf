package opscli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/simbridge/simbridge/libs/awsx"
	"github.com/simbridge/simbridge/libs/config"
	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/secrets"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
)

// Options are the global flags (each with a SIMBRIDGE_* environment variable).
type Options struct {
	Prefix      string
	Env         string
	EnvDir      string
	EndpointURL string
	Output      string
	Progress    string
	// OnceURL and OnceUser reach the 1NCE Management API; the password
	// comes from OncePasswordFile, SIMBRIDGE_ONCE_PASSWORD, or the
	// environment's secret <prefix>/once-password.
	OnceURL          string
	OnceUser         string
	OncePasswordFile string
	oncePassword     config.Secret
	// IoTRateLimits are client-side requests per second per IoT read
	// operation (the account's default quotas; the audit stays within them).
	IoTRateLimits map[string]float64
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
// AWS clients and, on demand, the 1NCE client and the caller's identity.
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
}

// resolvePrefix applies --env: the prefix (and 1NCE user and URL, unless
// given) from deployments/environments/<env>.env.
func (o *Options) resolvePrefix() error {
	if o.Env != "" {
		params, err := readEnvFile(o.EnvDir, o.Env)
		if err != nil {
			return err
		}
		if o.Prefix == "" {
			o.Prefix = params["Prefix"]
		}
		if o.OnceUser == "" {
			o.OnceUser = params["OnceUsername"]
		}
		if o.OnceURL == "" {
			o.OnceURL = params["OnceApiUrl"]
		}
	}
	if o.Prefix == "" {
		return usageError("no environment: pass --prefix (or --env, or set SIMBRIDGE_PREFIX)")
	}
	return nil
}

// readEnvFile reads Key=Value lines of an environment's parameter file.
func readEnvFile(dir, env string) (map[string]string, error) {
	if dir == "" {
		dir = findEnvDir()
	}
	path := filepath.Join(dir, env+".env")
	f, err := os.Open(path)
	if err != nil {
		return nil, usageError("--env %s: %v (pass --prefix, or --env-dir with the environments' files)", env, err)
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
			params[k] = v
		}
	}
	return params, sc.Err()
}

// findEnvDir is deployments/environments of the repository around the
// working directory, if any.
func findEnvDir() string {
	dir, _ := os.Getwd()
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
	return filepath.Join("deployments", "environments")
}

// connect loads the AWS configuration (the standard credential chain,
// AWS_REGION, AWS_ENDPOINT_URL or --endpoint-url) and builds the clients.
func connect(ctx context.Context, o *Options, out, errOut io.Writer) (*session, error) {
	if err := o.resolvePrefix(); err != nil {
		return nil, err
	}
	limits := o.IoTRateLimits
	if limits == nil {
		limits = DefaultIoTRateLimits
	}
	loadOpts := []func(*awsconfig.LoadOptions) error{awsx.WithRetry(aws.RetryModeStandard, 10), awsx.WithRateLimits(limits)}
	if o.EndpointURL != "" {
		loadOpts = append(loadOpts, awsconfig.WithBaseEndpoint(o.EndpointURL))
	}
	cfg, err := awsx.Load(ctx, loadOpts...)
	if err != nil {
		return nil, err
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

// errNoOnceCredentials means the 1NCE API cannot be asked; commands that
// only consult it say so and go on.
var errNoOnceCredentials = errors.New("no 1NCE credentials")

// onceClient returns a 1NCE API client with the environment's credentials.
func (s *session) onceClient(ctx context.Context) (*onceapi.Client, error) {
	o := s.opts
	if o.OnceUser == "" {
		return nil, fmt.Errorf("%w: no user (--once-user or SIMBRIDGE_ONCE_USERNAME)", errNoOnceCredentials)
	}
	src := secrets.Source{File: o.OncePasswordFile, Value: o.oncePassword}
	if src.File == "" && !src.Value.IsSet() {
		src.SecretID = s.names.Prefix + "/once-password"
	}
	if src.File != "" && src.Value.IsSet() {
		src.Value = ""
	}
	password, err := src.Resolve(ctx, secretsmanager.NewFromConfig(s.cfg))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNoOnceCredentials, err)
	}
	url := o.OnceURL
	if url == "" {
		url = onceapi.DefaultBaseURL
	}
	return onceapi.New(onceapi.Config{BaseURL: url, Username: o.OnceUser, Password: password, MaxElapsed: 30 * time.Second})
}
