package service_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/iotca"
	"github.com/simbridge/simbridge/libs/iotcore"
	"github.com/simbridge/simbridge/libs/keyseal"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
)

// What an attempt that died half-way left in the record is finished from
// there, with the certificate the record names; what the record does not
// name is never touched, not even on the SIM's own Thing.
func TestInterruptedAttemptsAreFinishedFromTheRecord(t *testing.T) {
	t.Parallel()
	a := newAccount(t, bootstrap.Options{})
	ctx := context.Background()
	api := iot.NewFromConfig(a.cfg)
	ic := iotcore.New(api)
	store := simstore.NewDynamo(dynamodb.NewFromConfig(a.cfg), a.res.Table())
	signer, err := iotca.NewSigner(ctx, kms.NewFromConfig(a.cfg), a.res.CAKeyARN)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := iotca.Load(ctx, signer, ssm.NewFromConfig(a.cfg), a.res.CAParameter())
	if err != nil {
		t.Fatal(err)
	}
	sealer, _ := keyseal.NewSealer(kms.NewFromConfig(a.cfg), a.res.KeyARN)
	pending := func(id, ip, command string, until time.Time) simrec.Credentials {
		t.Helper()
		is, err := ca.Issue(ctx, id, iotca.KeyRSA2048, 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		sealed, err := sealer.Seal(ctx, id, []byte(is.KeyPEM))
		if err != nil {
			t.Fatal(err)
		}
		next := simrec.Credentials{ID: is.ID, PEM: is.CertPEM, KeyCiphertext: sealed, Authority: simrec.AuthorityOwn, Command: command}
		rec := simrec.Record{ICCID: id, IP: ip, ThingName: id, Next: &next, LastCommand: command, ClaimedBy: command, ClaimedUntil: until}
		rec.SetState(simrec.StatePending)
		if _, err := store.Create(ctx, rec); err != nil {
			t.Fatal(err)
		}
		return next
	}

	// Died after recording its certificate, before IoT Core heard of it;
	// the claim has expired: a newer command takes over and finishes it.
	recorded := iccid(1)
	nextRecorded := pending(recorded, "10.4.0.1", "dead-1", time.Now().Add(-time.Minute))
	// Died after registering and attaching it, with its claim still running:
	// the same command, redelivered, finishes at once.
	registered := iccid(2)
	nextRegistered := pending(registered, "10.4.0.2", "", time.Time{})
	if _, err := ic.EnsureThing(ctx, iotcore.ThingSpec{Name: registered}); err != nil {
		t.Fatal(err)
	}
	arn, _, err := ic.Register(ctx, nextRegistered.PEM, ca.PEM)
	if err != nil {
		t.Fatal(err)
	}
	if err := ic.AttachToThing(ctx, registered, arn); err != nil {
		t.Fatal(err)
	}
	redelivered := create(registered, "10.4.0.2")
	rec, _ := store.Get(ctx, registered)
	rec.LastCommand, rec.ClaimedBy, rec.ClaimedUntil = redelivered.CommandID(), redelivered.CommandID(), time.Now().Add(time.Hour)
	if _, err := store.Update(ctx, rec); err != nil {
		t.Fatal(err)
	}
	// A Thing made by someone else (the reference system) holding a
	// certificate no record names: it keeps it.
	foreignThing := iccid(3)
	if _, err := api.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(foreignThing)}); err != nil {
		t.Fatal(err)
	}
	foreign, err := api.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := ic.AttachToThing(ctx, foreignThing, aws.ToString(foreign.CertificateArn)); err != nil {
		t.Fatal(err)
	}

	startProvisioner(t, a, options{workers: 2})
	recRecorded, _ := store.Get(ctx, recorded)
	publish(t, a,
		events.SimCommand{Kind: events.KindCreate, ICCID: recorded, IP: "10.4.0.1", Status: "Enabled",
			BaseVersion: recRecorded.Version, BaseCommand: "dead-1", ObservedAt: time.Now()},
		redelivered, create(foreignThing, "10.4.0.3"))
	allActive(t, a, []string{recorded, registered}, time.Minute)
	for id, want := range map[string]string{recorded: nextRecorded.ID, registered: nextRegistered.ID} {
		if got, _ := store.Get(ctx, id); got.CertificateID() != want {
			t.Errorf("%s: certificate %s, want the one the record named (%s)", id, got.CertificateID(), want)
		}
	}
	eventually(t, time.Minute, "SIM on the foreign thing onboardable", func() error {
		rec, err := store.Get(ctx, foreignThing)
		if err == nil && !rec.Active {
			err = fmt.Errorf("record %s", rec.CurrentState())
		}
		return err
	})
	d, err := api.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: foreign.CertificateId})
	if err != nil || d.CertificateDescription.Status != iottypes.CertificateStatusActive {
		t.Fatalf("the foreign certificate was touched: %v", err)
	}
	ps, _ := ic.ThingPrincipals(ctx, foreignThing)
	if len(ps) != 2 {
		rec, _ := store.Get(ctx, foreignThing)
		t.Fatalf("the foreign thing's principals are %v (foreign %s, the SIM's %s): the foreign certificate must stay attached next to the SIM's",
			ps, aws.ToString(foreign.CertificateArn), rec.CertificateARN())
	}
	holds(t, a, simrec.AuthorityOwn, map[string]bool{aws.ToString(foreign.CertificateId): true})
}
