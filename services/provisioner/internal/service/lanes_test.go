package service_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
)

// TestAMoveNeverWaitsBehindCertificateWork: with the only create worker
// held by a new SIM's certificate registration (IoT answering slowly), an
// IP move of another SIM, on the update lane, is carried out at once.
func TestAMoveNeverWaitsBehindCertificateWork(t *testing.T) {
	t.Parallel()
	a := newAccount(t, bootstrap.Options{})
	store := simstore.NewDynamo(dynamodb.NewFromConfig(a.cfg), a.res.Table())
	startProvisioner(t, a, options{workers: 1})
	moved := iccid(1)
	publish(t, a, create(moved, "10.61.0.1"))
	allActive(t, a, []string{moved}, time.Minute)

	const held = 30 * time.Second
	hold := &testkit.Fault{Operation: "RegisterCertificate", Every: 1, Times: 1, Delay: held}
	a.proxy.Set(hold)
	slow := iccid(2)
	publish(t, a, create(slow, "10.61.0.2"))
	eventually(t, time.Minute, "the new SIM's registration held", func() error {
		if hold.Applied() == 0 {
			return errors.New("not yet")
		}
		return nil
	})
	start := time.Now()
	move := events.SimCommand{Kind: events.KindUpdate, ICCID: moved, IP: "10.61.1.1", Status: "Enabled", ObservedAt: time.Now()}
	rec, err := store.Get(context.Background(), moved)
	if err != nil {
		t.Fatal(err)
	}
	move.BaseVersion, move.BaseCommand = rec.Version, rec.LastCommand
	publish(t, a, move)
	eventually(t, held/2, "the move carried out while the create is held", func() error {
		rec, err := store.Get(context.Background(), moved)
		switch {
		case err != nil:
			return err
		case rec.IP != "10.61.1.1" || !rec.Settled():
			return errors.New("not moved yet")
		}
		return nil
	})
	if err := a.check.Active(context.Background(), slow); err == nil {
		t.Fatalf("the held create finished first (%v after the move was sent): the test proves nothing", time.Since(start))
	}
	allActive(t, a, []string{moved, slow}, 2*held)
	dlqEmpty(t, a)
}
