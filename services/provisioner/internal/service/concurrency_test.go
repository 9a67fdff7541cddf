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
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/iotca"
	"github.com/simbridge/simbridge/libs/iotcore"
	"github.com/simbridge/simbridge/libs/keyseal"
	"github.com/simbridge/simbridge/libs/messaging"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
	"github.com/simbridge/simbridge/services/provisioner/internal/adapters"
	"github.com/simbridge/simbridge/services/provisioner/internal/app"
)

// newApp builds the provisioner's use case on the account, reached through
// the fault proxy.
func newApp(t *testing.T, a account, timing simrec.ClaimTiming) *app.Provisioner {
	t.Helper()
	ctx := context.Background()
	cfg, err := testkit.LoadAWSConfig(ctx, a.proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	sealer, _ := keyseal.NewSealer(kms.NewFromConfig(cfg), a.res.KeyARN)
	snsPub := messaging.NewSNSPublisher(cfg, slog.New(slog.DiscardHandler))
	notifier := messaging.NewNotifier(snsPub, a.res.SuccessTopicARN, a.res.FailureTopicARN)
	signer, err := iotca.NewSigner(ctx, kms.NewFromConfig(cfg), a.res.CAKeyARN)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := iotca.Load(ctx, signer, ssm.NewFromConfig(cfg), a.res.CAParameter())
	if err != nil {
		t.Fatal(err)
	}
	ic := iotcore.New(iot.NewFromConfig(cfg))
	things, err := adapters.NewIoT(ic, a.res.Policy(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := app.New(app.Deps{
		Store: simstore.NewDynamo(dynamodb.NewFromConfig(cfg), a.res.Table()), IoT: things,
		Authority: adapters.OwnCA{CA: ca, IoT: ic, Keys: iotca.KeyECP256, Validity: 24 * time.Hour}, Sealer: sealer,
		Announcer: adapters.NewAnnouncer(notifier, iotdataplane.NewFromConfig(cfg), "registration"), Notifier: notifier,
		Logger: slog.New(slog.DiscardHandler),
	}, timing)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Two deliveries of commands for one SIM handled at the same time (an
// emulator may hand out two messages of one group; on AWS a handler could
// outlive its visibility timeout) never destroy each other's work: the SIM
// ends with exactly one certificate and none is left over.
func TestConcurrentDeliveriesForOneSIMConverge(t *testing.T) {
	t.Parallel()
	a := newAccount(t, bootstrap.Options{})
	p := newApp(t, a, simrec.ClaimTiming{TTL: 20 * time.Second, Wait: 15 * time.Second, Poll: 200 * time.Millisecond})

	tests := []struct {
		name   string
		first  events.SimCommand
		second func(first events.SimCommand) events.SimCommand
		slow   *testkit.Fault
	}{
		{name: "the same create delivered twice at once", first: create(iccid(30), "10.8.0.30"),
			second: func(c events.SimCommand) events.SimCommand { return c }},
		{name: "a newer command computed while the first attempt is stuck in a slow call",
			first: create(iccid(31), "10.8.0.31"),
			second: func(c events.SimCommand) events.SimCommand {
				return events.SimCommand{Kind: events.KindUpdate, ICCID: c.ICCID, IP: "10.8.1.31", Status: "Enabled",
					BaseVersion: 1, BaseCommand: c.CommandID(), ObservedAt: time.Now()}
			},
			slow: &testkit.Fault{Operation: "AttachPolicy", Times: 1, Delay: 4 * time.Second}},
	}
	for _, tc := range tests {
		if tc.slow != nil {
			a.proxy.Set(tc.slow)
		}
		var wg sync.WaitGroup
		wg.Go(func() { deliverUntilDone(t, p, tc.first) })
		time.Sleep(300 * time.Millisecond)
		wg.Go(func() { deliverUntilDone(t, p, tc.second(tc.first)) })
		wg.Wait()
		a.proxy.Set()
		if err := a.check.Active(context.Background(), tc.first.ICCID); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if rec, _ := a.check.Record(context.Background(), tc.first.ICCID); rec.IP != tc.second(tc.first).IP {
			t.Fatalf("%s: the newer command was lost: IP %s", tc.name, rec.IP)
		}
		if tc.slow != nil && tc.slow.Applied() != 1 {
			t.Fatalf("%s: the first attempt was not held up", tc.name)
		}
	}
	holds(t, a, simrec.AuthorityOwn, nil)
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
