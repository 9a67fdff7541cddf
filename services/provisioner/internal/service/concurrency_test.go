package service_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/simbridge/simbridge/libs/bootstrap"
	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/iotcore"
	"github.com/simbridge/simbridge/libs/keyseal"
	"github.com/simbridge/simbridge/libs/messaging"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/services/provisioner/internal/adapters"
	"github.com/simbridge/simbridge/services/provisioner/internal/app"
)

// Two deliveries of commands for one SIM handled at the same time (an
// emulator may hand out two messages of one group; on AWS a handler could
// outlive its visibility timeout) never destroy each other's work: after
// redelivering what failed, the SIM ends with exactly one certificate.
func TestConcurrentDeliveriesForOneSIMConverge(t *testing.T) {
	t.Parallel()
	a := newAccount(t, bootstrap.Options{})
	cfg, err := testkit.LoadAWSConfig(context.Background(), a.proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	sealer, _ := keyseal.NewSealer(kms.NewFromConfig(cfg), a.res.KeyARN)
	snsPub, err := messaging.NewSNSPublisher(cfg, messaging.Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	notifier := messaging.NewNotifier(snsPub, a.res.SuccessTopicARN, a.res.FailureTopicARN)
	p := app.New(simstore.NewDynamo(dynamodb.NewFromConfig(cfg), a.res.Table()), iotcore.New(iot.NewFromConfig(cfg)), sealer,
		adapters.NewAnnouncer(notifier, iotdataplane.NewFromConfig(cfg), "registration"), a.res.Policy(), slog.New(slog.DiscardHandler))

	tests := []struct {
		name   string
		second events.SimCommand
		slow   *testkit.Fault
	}{
		{name: "the same create delivered twice at once", second: create(iccid(30), "10.8.0.30")},
		{name: "a re-enable computed against the intent while the first attempt is stuck for longer than recovery waits",
			second: events.SimCommand{Kind: events.KindCreate, ICCID: iccid(31), IP: "10.8.0.31", Status: "Enabled", BaseVersion: 1, ObservedAt: time.Now()},
			slow:   &testkit.Fault{Operation: "PUT /target-policies/", Times: 1, Delay: app.OrphanSettle + 2*time.Second}},
	}
	for _, tc := range tests {
		if tc.slow != nil {
			a.proxy.Set(tc.slow)
		}
		var wg sync.WaitGroup
		wg.Go(func() { deliverUntilDone(t, p, create(tc.second.ICCID, tc.second.IP)) })
		time.Sleep(300 * time.Millisecond)
		wg.Go(func() { deliverUntilDone(t, p, tc.second) })
		wg.Wait()
		a.proxy.Set()
		if err := a.check.Active(context.Background(), tc.second.ICCID); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if tc.slow != nil && tc.slow.Applied() != 1 {
			t.Fatalf("%s: the first attempt was not held up", tc.name)
		}
	}
	if n, err := a.check.Strays(context.Background()); err != nil || n != 0 {
		t.Fatalf("strays: %d %v", n, err)
	}
}

// deliverUntilDone handles cmd like SQS would: again after every failure.
func deliverUntilDone(t *testing.T, p *app.Provisioner, cmd events.SimCommand) {
	for attempt := range 6 {
		if err := p.Handle(context.Background(), cmd); err == nil {
			return
		} else {
			t.Logf("%s attempt %d: %v", cmd.ICCID, attempt+1, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Errorf("%s: still failing after 6 deliveries", cmd.ICCID)
}
