package service_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/simbridge/simbridge/libs/bootstrap"
	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/iotcore"
	"github.com/simbridge/simbridge/libs/logging"
	"github.com/simbridge/simbridge/libs/messaging"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/services/deactivator/internal/service"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

func TestDisableTakesAccessAwayOnceAndUnknownSIMsEndCleanly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testkit.AWSConfig(t)
	res, err := bootstrap.Ensure(ctx, cfg, bootstrap.Names{Prefix: testkit.Name(t)}, bootstrap.Options{MaxReceiveCount: 3})
	if err != nil {
		t.Fatal(err)
	}
	successes := testkit.SubscribeInbox(t, cfg, res.SuccessTopicARN)
	failures := testkit.SubscribeInbox(t, cfg, res.FailureTopicARN)

	// An active SIM with its certificate, as the provisioner leaves it.
	ic := iotcore.New(iot.NewFromConfig(cfg))
	store := simstore.NewDynamo(dynamodb.NewFromConfig(cfg), res.Table())
	const id, unknown = "8988280666000000101", "8988280666000000102"
	cert, err := ic.CreateCertificate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ic.SetActive(ctx, cert.ID, true); err != nil {
		t.Fatal(err)
	}
	rec, err := store.Create(ctx, simstore.Record{ICCID: id, IP: "10.7.0.1", Active: true, Status: "Enabled", ThingName: id,
		CertificateID: cert.ID, CertificateARN: cert.ARN, CertificatePEM: cert.PEM, PrivateKeyCiphertext: []byte{1}})
	if err != nil {
		t.Fatal(err)
	}

	start(t, cfg, res)
	disable := events.SimCommand{Kind: events.KindDisable, ICCID: id, IP: "10.7.0.1", Reason: "absent", BaseVersion: rec.Version, ObservedAt: time.Now()}
	redelivered := disable
	redelivered.ObservedAt = time.Now().Add(time.Second)
	publishDisable(t, cfg, res, disable, events.SimCommand{Kind: events.KindDisable, ICCID: unknown, ObservedAt: time.Now()})
	// A second copy of the same change, as after a redelivery: it deduplicates or is stale.
	publishDisable(t, cfg, res, redelivered)

	check := testkit.NewProvisioning(cfg, res.Table(), res.Policy())
	testkit.Eventually(t, 30*time.Second, "SIM disabled", func() error { return check.Inactive(ctx, id) })
	ok := successes.Drain(t, 3*time.Second)
	if len(ok) != 1 || !strings.Contains(ok[0], `"message":"SIM disabled"`) || !strings.Contains(ok[0], id) {
		t.Errorf("success notifications %q, want one SIM disabled for %s", ok, id)
	}
	bad := failures.Drain(t, time.Second)
	if len(bad) != 1 || !strings.Contains(bad[0], unknown) {
		t.Errorf("failure notifications %q, want one about %s", bad, unknown)
	}
	q := sqs.NewFromConfig(cfg)
	if left := testkit.DrainQueue(t, q, res.DisableQueueURL, time.Second); len(left) != 0 {
		t.Errorf("disable queue still holds %q: the unknown SIM must not loop", left)
	}
	if dead := testkit.DrainQueue(t, q, res.DisableDLQURL, time.Second); len(dead) != 0 {
		t.Errorf("DLQ holds %q", dead)
	}
}

func start(t *testing.T, cfg aws.Config, res bootstrap.Resources) {
	t.Helper()
	c := service.Config{ConsumerSettings: messaging.ConsumerSettings{OpsAddr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second},
		DisableQueue: res.DisableQueue(),
		SimTable:     res.Table(), SuccessTopicARN: res.SuccessTopicARN, FailureTopicARN: res.FailureTopicARN, Workers: 2}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logger := logging.New(os.Stderr, "deactivator", slog.LevelWarn)
	go func() { done <- service.Serve(ctx, c, cfg, prometheus.NewRegistry(), logger) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("deactivator stopped with %v", err)
		}
	})
}

func publishDisable(t *testing.T, cfg aws.Config, res bootstrap.Resources, cmds ...events.SimCommand) {
	t.Helper()
	pub, err := messaging.NewSQSPublisher(cfg, messaging.Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds {
		msg, err := messaging.NewCommandMessage(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := pub.Publish(res.DisableQueue(), msg); err != nil {
			t.Fatal(err)
		}
	}
}
