package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/simbridge/simbridge/libs/bootstrap"
	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/iotcore"
	"github.com/simbridge/simbridge/libs/simstore"
)

// What an attempt that died half-way left behind is found and repaired.
func TestInterruptedAttemptsAreRepaired(t *testing.T) {
	t.Parallel()
	a := newAccount(t, bootstrap.Options{})
	ctx := context.Background()
	ic := iotcore.New(iot.NewFromConfig(a.cfg))
	store := simstore.NewDynamo(dynamodb.NewFromConfig(a.cfg), a.res.Table())

	// Died after attaching its certificate to the Thing, before recording it:
	// the key is lost, so that certificate must go.
	lost := iccid(1)
	if _, err := ic.EnsureThing(ctx, lost); err != nil {
		t.Fatal(err)
	}
	stray, err := ic.CreateCertificate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ic.AttachToThing(ctx, lost, stray.ARN); err != nil {
		t.Fatal(err)
	}

	// Died while CreateKeysAndCertificate ran (intent recorded, the answer
	// lost): the certificate exists, INACTIVE and attached to nothing.
	unanswered := iccid(3)
	if _, err := ic.EnsureThing(ctx, unanswered); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Create(ctx, simstore.Record{ICCID: unanswered, IP: "10.4.0.3", ThingName: unanswered, CertRequestedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	orphan, err := ic.CreateCertificate(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// Died after activating its certificate, before recording it: the key
	// is lost, so the ACTIVE certificate must go too.
	activated := iccid(2)
	if _, err := ic.EnsureThing(ctx, activated); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Create(ctx, simstore.Record{ICCID: activated, IP: "10.4.0.2", ThingName: activated, CertRequestedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	live, err := ic.CreateCertificate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ic.Attach(ctx, activated, a.res.Policy(), live.ARN); err != nil {
		t.Fatal(err)
	}
	if err := ic.SetActive(ctx, live.ID, true); err != nil {
		t.Fatal(err)
	}

	startProvisioner(t, a, 2)
	publish(t, a, create(lost, "10.4.0.1"), create(activated, "10.4.0.2"), create(unanswered, "10.4.0.3"))
	allActive(t, a, []string{lost, activated, unanswered}, time.Minute)
	for name, id := range map[string]string{"attached but unrecorded": stray.ID, "activated but unrecorded": live.ID, "created but unanswered": orphan.ID} {
		if _, err := iot.NewFromConfig(a.cfg).DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)}); err == nil {
			t.Errorf("the %s certificate still exists", name)
		}
	}
	if n, err := a.check.Strays(ctx); err != nil || n != 0 {
		t.Fatalf("strays: %d %v", n, err)
	}
}

// Re-enable and IP change keep the Thing and the certificate; a stale
// command does not undo newer state.
func TestReenableAndIPChangeKeepTheCertificate(t *testing.T) {
	t.Parallel()
	a := newAccount(t, bootstrap.Options{})
	ctx := context.Background()
	store := simstore.NewDynamo(dynamodb.NewFromConfig(a.cfg), a.res.Table())
	ic := iotcore.New(iot.NewFromConfig(a.cfg))
	id := iccid(5)
	startProvisioner(t, a, 1)
	publish(t, a, create(id, "10.5.0.1"))
	allActive(t, a, []string{id}, time.Minute)
	first, _ := store.Get(ctx, id)

	// The deactivator's work: certificate INACTIVE, record inactive.
	if err := ic.SetActive(ctx, first.CertificateID, false); err != nil {
		t.Fatal(err)
	}
	first.Active = false
	disabled, err := store.Update(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	reenable := create(id, "10.5.0.1")
	reenable.BaseVersion = disabled.Version
	publish(t, a, reenable)
	allActive(t, a, []string{id}, time.Minute)
	again, _ := store.Get(ctx, id)
	if again.CertificateID != first.CertificateID {
		t.Fatalf("re-enable rotated the certificate: %s -> %s", first.CertificateID, again.CertificateID)
	}

	move := events.SimCommand{Kind: events.KindUpdate, ICCID: id, IP: "10.5.0.9", Status: "Enabled", BaseVersion: again.Version, ObservedAt: time.Now()}
	publish(t, a, move)
	eventually(t, 30*time.Second, "record moved to the new IP", func() error {
		if recs, _ := store.FindByIP(ctx, "10.5.0.9"); len(recs) != 1 {
			return errString("not at the new IP")
		}
		return nil
	})
	stale := events.SimCommand{Kind: events.KindUpdate, ICCID: id, IP: "10.5.0.1", Status: "Enabled", BaseVersion: again.Version, ObservedAt: time.Now()}
	stale.Reason = "re-sent old change"
	publish(t, a, stale)
	drained(t, a)
	moved, _ := store.Get(ctx, id)
	if moved.IP != "10.5.0.9" || moved.CertificateID != first.CertificateID {
		t.Fatalf("after a stale update: ip %s certificate %s", moved.IP, moved.CertificateID)
	}
	if err := a.check.Active(ctx, id); err != nil {
		t.Fatal(err)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
