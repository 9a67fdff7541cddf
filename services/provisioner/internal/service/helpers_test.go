package service_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/simbridge/simbridge/libs/awsx"
	"github.com/simbridge/simbridge/libs/bootstrap"
	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/logging"
	"github.com/simbridge/simbridge/libs/messaging"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/services/provisioner/internal/service"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

// account is one emulator with the system's resources, reached directly
// (for assertions) and through a fault proxy (for the service).
type account struct {
	endpoint string
	cfg      aws.Config
	res      bootstrap.Resources
	proxy    *testkit.FaultProxy
	check    *testkit.Provisioning
}

func newAccount(t *testing.T, opts bootstrap.Options) account {
	t.Helper()
	endpoint := testkit.OwnMoto(t)
	cfg := testkit.AWSConfigFor(t, endpoint)
	res, err := bootstrap.Ensure(context.Background(), cfg, bootstrap.Names{Prefix: testkit.Name(t)}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return account{endpoint: endpoint, cfg: cfg, res: res, proxy: testkit.NewFaultProxy(t, endpoint),
		check: testkit.NewProvisioning(cfg, res.Table(), res.Policy())}
}

// startProvisioner runs the provisioner in-process against the fault proxy
// until the test ends.
func startProvisioner(t *testing.T, a account, workers int) {
	t.Helper()
	awsCfg, err := testkit.LoadAWSConfig(context.Background(), a.proxy.URL,
		awsx.RetrySettings{RetryMode: "adaptive", MaxAttempts: 10}.Option())
	if err != nil {
		t.Fatal(err)
	}
	cfg := service.Config{
		ConsumerSettings: messaging.ConsumerSettings{OpsAddr: "127.0.0.1:0", ShutdownTimeout: 10 * time.Second},
		CreateQueue:      a.res.CreateQueue(),
		SimTable:         a.res.Table(), KMSKeyID: a.res.KeyARN, IoTPolicyName: a.res.Policy(),
		SuccessTopicARN: a.res.SuccessTopicARN, FailureTopicARN: a.res.FailureTopicARN,
		RegistrationTopic: "registration", Workers: workers,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logger := logging.New(testWriter{t}, "provisioner", slog.LevelWarn)
	go func() { done <- service.Serve(ctx, cfg, awsCfg, prometheus.NewRegistry(), logger) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("provisioner stopped with %v", err)
		}
	})
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(b))
	return len(b), nil
}

func iccid(i int) string { return fmt.Sprintf("89882806660%08d", i) }

func create(id string, ip string) events.SimCommand {
	return events.SimCommand{Kind: events.KindCreate, ICCID: id, IP: ip, Status: "Enabled", ObservedAt: time.Now()}
}

// publish sends commands straight to the create queue (as sim-poller does).
func publish(t *testing.T, a account, cmds ...events.SimCommand) {
	t.Helper()
	pub, err := messaging.NewSQSPublisher(a.cfg, messaging.Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds {
		msg, err := messaging.NewCommandMessage(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := pub.Publish(a.res.CreateQueue(), msg); err != nil {
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

// drained waits until the create queue has no message left, visible or in flight.
func drained(t *testing.T, a account) {
	t.Helper()
	q := sqs.NewFromConfig(a.cfg)
	eventually(t, time.Minute, "create queue drained", func() error {
		out, err := q.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(a.res.CreateQueueURL),
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
