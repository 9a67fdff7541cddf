package messaging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/simbridge/simbridge/libs/awsx"
	"github.com/simbridge/simbridge/libs/metrics"
	"github.com/simbridge/simbridge/libs/quota"
)

// ConsumerSettings are the settings every queue-consuming service shares;
// services embed it in their Config next to their own WORKERS.
type ConsumerSettings struct {
	OpsAddr string `env:"OPS_ADDR, default=:9090" desc:"/metrics, /healthz and /readyz (never on the public port)"`
	// ShutdownTimeout bounds how long in-flight commands may finish after SIGTERM.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT, default=25s" desc:"time in-flight work may take after SIGTERM (ECS stops after 30 s)"`
	Retry           awsx.RetrySettings
	// IoTQuotas are the account-wide IoT quotas, requests per second by
	// operation (default: AWS IoT Core's default quotas of the operations
	// the consumers call; raise them with your account's), shared by every
	// provisioner and deactivator task (package quota): however many tasks
	// run, together they stay within them.
	IoTQuotas map[string]float64 `env:"IOT_QUOTAS, separator==, default=CreateKeysAndCertificate=10,RegisterCertificate=10,UpdateCertificate=10,AttachPolicy=15,DescribeCertificate=10,CreateThing=100,DescribeThing=350,AddThingToThingGroup=100,AttachThingPrincipal=100,DetachThingPrincipal=100,ListThingPrincipals=10,DeleteCertificate=10" desc:"account-wide requests per second per IoT operation, shared by all provisioner and deactivator tasks (AWS default quotas; raise with yours)"`
	// LeaseTable holds the tasks' quota heartbeats.
	LeaseTable string `env:"LEASE_TABLE, required" desc:"DynamoDB table of leases and quota heartbeats"`
}

// ValidateWith checks the shared settings together with the service's
// worker count.
func (s ConsumerSettings) ValidateWith(workers int) error {
	var errs []error
	if workers < 1 || workers > 256 {
		errs = append(errs, fmt.Errorf("WORKERS %d: want 1-256", workers))
	}
	if s.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("SHUTDOWN_TIMEOUT must be positive"))
	}
	if err := s.Retry.Validate(); err != nil {
		errs = append(errs, err)
	}
	for op, rps := range s.IoTQuotas {
		if rps <= 0 {
			errs = append(errs, fmt.Errorf("IOT_QUOTAS %s=%v: must be positive", op, rps))
		}
	}
	return errors.Join(errs...)
}

// AWS is a consumer's AWS configuration: the SDK configuration whose IoT
// calls wait for this task's share of the account's quotas, and the quota
// membership to run next to the consumers.
type AWS struct {
	Config aws.Config
	Quotas *quota.Shared
}

// LoadAWS loads the SDK configuration with the retry settings and AWS call
// metrics registered on reg, and paces the IoT operations the service calls
// (ops) to its share of IoTQuotas.
func (s ConsumerSettings) LoadAWS(ctx context.Context, ops []string, reg prometheus.Registerer, logger *slog.Logger) (AWS, error) {
	cfg, err := awsx.Load(ctx, s.Retry.Option(), awsx.WithObserver(metrics.NewAWSCalls(reg)))
	if err != nil {
		return AWS{}, err
	}
	return s.ShareQuotas(cfg, ops, reg, logger)
}

// ShareQuotas adds the quota pacing to an existing configuration (tests
// point it at the emulator or a fault proxy).
func (s ConsumerSettings) ShareQuotas(cfg aws.Config, ops []string, reg prometheus.Registerer, logger *slog.Logger) (AWS, error) {
	quotas := map[string]float64{}
	for _, op := range ops {
		if rps, ok := s.IoTQuotas[op]; ok {
			quotas[op] = rps
		}
	}
	shared, err := quota.New(dynamodb.NewFromConfig(cfg), quota.Config{
		Table: s.LeaseTable, Group: "iot", Member: quota.DefaultMember(), Quotas: quotas, Logger: logger,
	})
	if err != nil {
		return AWS{}, err
	}
	registerShares(reg, shared)
	paced := cfg.Copy()
	paced.APIOptions = append(append([]func(*middleware.Stack) error(nil), cfg.APIOptions...), awsx.LimiterAPIOption(shared))
	return AWS{Config: paced, Quotas: shared}, nil
}

// registerShares exports each operation's current share and task count.
func registerShares(reg prometheus.Registerer, s *quota.Shared) {
	for _, op := range s.Operations() {
		labels := prometheus.Labels{"operation": op}
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: metrics.Namespace, Subsystem: "quota", Name: "share_requests_per_second",
				Help: "This task's share of the account-wide quota of an AWS operation.", ConstLabels: labels},
				func() float64 { rps, _ := s.Share(op); return rps }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: metrics.Namespace, Subsystem: "quota", Name: "tasks",
				Help: "Tasks sharing the account-wide quota of an AWS operation.", ConstLabels: labels},
				func() float64 { _, n := s.Share(op); return float64(n) }),
		)
	}
}
