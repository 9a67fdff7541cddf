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
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/iotca"
	"github.com/simbridge/simbridge/libs/iotcore"
	"github.com/simbridge/simbridge/libs/logging"
	"github.com/simbridge/simbridge/libs/messaging"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
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
	rec, err := store.Create(ctx, simrec.Record{ICCID: id, IP: "10.7.0.1", Active: true, State: simrec.StateActive, Status: "Enabled", ThingName: id,
		Cert: &simrec.Credentials{ID: cert.ID, ARN: cert.ARN, PEM: cert.PEM, KeyCiphertext: []byte{1}, Authority: simrec.AuthorityAWS}})
	if err != nil {
		t.Fatal(err)
	}

	start(t, cfg, res)
	disable := events.SimCommand{Kind: events.KindDisable, ICCID: id, IP: "10.7.0.1", Reason: "absent", BaseVersion: rec.Version, ObservedAt: time.Now()}
	late := events.SimCommand{Kind: events.KindDisable, ICCID: id, IP: "10.7.0.1", Status: "Disabled", Reason: "computed earlier", BaseVersion: rec.Version - 1, BaseCommand: "older", ObservedAt: time.Now()}
	redelivered := disable
	redelivered.ObservedAt = time.Now().Add(time.Second)
	publishDisable(t, cfg, res, disable, events.SimCommand{Kind: events.KindDisable, ICCID: unknown, ObservedAt: time.Now()})
	// A second copy of the same change, as after a redelivery: it deduplicates or is stale.
	publishDisable(t, cfg, res, redelivered)
	// A command computed against an older state changes nothing (its status would show).
	publishDisable(t, cfg, res, late)

	check := testkit.NewProvisioning(cfg, res.Table(), res.Policy())
	testkit.Eventually(t, 30*time.Second, "SIM disabled", func() error { return check.Inactive(ctx, id) })
	if got, _ := store.Get(ctx, id); got.Status != "Enabled" || got.CurrentState() != simrec.StateDisabled || got.ClaimedBy != "" {
		t.Errorf("record %s/%s claimed by %q: a stale disable changed it, or the claim stayed", got.CurrentState(), got.Status, got.ClaimedBy)
	}
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
	c := service.Config{ConsumerSettings: messaging.ConsumerSettings{OpsAddr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second, LeaseTable: res.Leases()},
		DisableQueue: res.DisableQueue(),
		SimTable:     res.Table(), SuccessTopicARN: res.SuccessTopicARN, FailureTopicARN: res.FailureTopicARN, Workers: 2, ClaimTTL: time.Minute}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logger := logging.New(os.Stderr, "deactivator", slog.LevelWarn)
	reg := prometheus.NewRegistry()
	paced, err := c.ShareQuotas(cfg, service.IoTOperations, reg, logger)
	if err != nil {
		t.Fatal(err)
	}
	go func() { done <- service.Serve(ctx, c, paced, service.NewMetrics(reg), logger) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("deactivator stopped with %v", err)
		}
	})
}

func publishDisable(t *testing.T, cfg aws.Config, res bootstrap.Resources, cmds ...events.SimCommand) {
	t.Helper()
	pub := messaging.NewSQSPublisher(cfg, slog.New(slog.DiscardHandler))
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

// Revoke takes access away for good: the current certificate REVOKED, a
// certificate still being issued either dropped (IoT Core never saw it) or
// REVOKED and queued for detaching; the record says revoked.
func TestRevokeLeavesNoUsableCertificate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testkit.AWSConfig(t)
	res, err := bootstrap.Ensure(ctx, cfg, bootstrap.Names{Prefix: testkit.Name(t)}, bootstrap.Options{MaxReceiveCount: 3})
	if err != nil {
		t.Fatal(err)
	}
	successes := testkit.SubscribeInbox(t, cfg, res.SuccessTopicARN)
	ic := iotcore.New(iot.NewFromConfig(cfg))
	store := simstore.NewDynamo(dynamodb.NewFromConfig(cfg), res.Table())
	signer, err := iotca.NewSigner(ctx, kms.NewFromConfig(cfg), res.CAKeyARN)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := iotca.Load(ctx, signer, ssm.NewFromConfig(cfg), res.CAParameter())
	if err != nil {
		t.Fatal(err)
	}
	issue := func(id string, register bool) *simrec.Credentials {
		is, err := ca.Issue(ctx, id, iotca.KeyECP256, 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		c := &simrec.Credentials{ID: is.ID, PEM: is.CertPEM, KeyCiphertext: []byte{1}, Authority: simrec.AuthorityOwn}
		if register {
			if c.ARN, _, err = ic.Register(ctx, is.CertPEM, ca.PEM); err != nil {
				t.Fatal(err)
			}
		}
		return c
	}
	const withUnregistered, withRegistered = "8988280666000000201", "8988280666000000202"
	var cmds []events.SimCommand
	nexts := map[string]*simrec.Credentials{}
	for id, registered := range map[string]bool{withUnregistered: false, withRegistered: true} {
		rec := simrec.Record{ICCID: id, IP: "10.7.1." + id[len(id)-1:], Status: "Enabled", ThingName: id, Cert: issue(id, true), Next: issue(id, registered)}
		rec.SetState(simrec.StateActive)
		created, err := store.Create(ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		nexts[id] = rec.Next
		cmds = append(cmds, events.SimCommand{Kind: events.KindRevoke, ICCID: id, BaseVersion: created.Version, ID: "revoke-" + id, ObservedAt: time.Now()})
	}
	start(t, cfg, res)
	publishDisable(t, cfg, res, cmds...)
	check := testkit.NewProvisioning(cfg, res.Table(), res.Policy())
	for _, id := range []string{withUnregistered, withRegistered} {
		testkit.Eventually(t, 30*time.Second, "SIM revoked", func() error { return check.Inactive(ctx, id) })
		rec, _ := store.Get(ctx, id)
		if rec.CurrentState() != simrec.StateRevoked || rec.Next != nil {
			t.Fatalf("%s: state %s, next %v", id, rec.CurrentState(), rec.Next)
		}
		st, err := check.Status(ctx, nexts[id].ID)
		switch id {
		case withUnregistered:
			if err == nil || len(rec.Retiring) != 0 {
				t.Errorf("the certificate never registered must stay unknown to IoT Core and be dropped: %s %v %v", st, err, rec.Retiring)
			}
		case withRegistered:
			if st != "REVOKED" || len(rec.Retiring) != 1 {
				t.Errorf("the registered certificate being issued must be REVOKED and queued for detaching: %s %v", st, rec.Retiring)
			}
		}
	}
	if ok := successes.Drain(t, 2*time.Second); len(ok) != 2 || !strings.Contains(ok[0], `"message":"SIM revoked"`) {
		t.Errorf("success notifications %q, want two SIM revoked", ok)
	}
}
