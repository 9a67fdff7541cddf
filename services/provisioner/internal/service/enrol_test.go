package service_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
)

// Devices enrol while AWS throttles, fails after the call took effect and
// drops connections on the certificate's steps: every SIM ends with exactly
// one ACTIVE certificate — the one for its device's key — and its record
// holds no private key; the server certificates it had are REVOKED. New
// SIMs in key mode device never get a server key.
func TestEnrolmentsEndCorrectDespiteAWSFaults(t *testing.T) {
	t.Parallel()
	a := newAccount(t, bootstrap.Options{MaxReceiveCount: 10, VisibilityTimeout: 10 * time.Second})
	startProvisioner(t, a, options{workers: 4, keyMode: simrec.KeyModeBoth})
	ctx := context.Background()
	store := simstore.NewDynamo(dynamodb.NewFromConfig(a.cfg), a.res.Table())
	const sims = 8
	var ids []string
	for i := range sims {
		ids = append(ids, iccid(i))
		publish(t, a, create(iccid(i), fmt.Sprintf("10.7.0.%d", i+1)))
	}
	allActive(t, a, ids, 2*time.Minute)
	served := map[string]string{}
	for _, id := range ids {
		rec, _ := store.Get(ctx, id)
		served[id] = rec.CertificateID()
	}

	faults := []*testkit.Fault{
		{Operation: "RegisterCertificate", Every: 3, Status: 400, Code: "ThrottlingException"},
		{Operation: "RegisterCertificate", Every: 4, Status: 500, Code: "InternalFailureException", AfterForward: true},
		{Operation: "AttachThingPrincipal", Every: 3, Status: 500, Code: "InternalFailureException", AfterForward: true},
		{Operation: "AttachPolicy", Every: 4, Reset: true},
		{Operation: "UpdateCertificate", Every: 3, Status: 503, Code: "ServiceUnavailableException", AfterForward: true},
		{Operation: "DetachThingPrincipal", Every: 3, Status: 400, Code: "ThrottlingException"},
		{Operation: "Sign", Every: 4, Status: 500, Code: "KMSInternalException"},
		{Operation: "UpdateItem", Every: 5, Status: 500, Code: "InternalServerError", AfterForward: true},
	}
	a.proxy.Set(faults...)
	enrolled := map[string]string{} // ICCID → enrol command
	for _, id := range ids {
		cmd := enrol(t, store, id, testkit.CSRP256)
		enrolled[id] = cmd.ID
		publish(t, a, cmd)
	}
	eventually(t, 3*time.Minute, "every device enrolled", func() error {
		for _, id := range ids {
			rec, err := store.Get(ctx, id)
			if err != nil {
				return err
			}
			if rec.Cert == nil || rec.Cert.Command != enrolled[id] {
				return fmt.Errorf("%s: certificate of %q, want the enrolment's", id, rec.Cert.Command)
			}
			if err := a.check.Active(ctx, id); err != nil {
				return err
			}
		}
		return nil
	})
	for _, f := range faults {
		if f.Applied() == 0 {
			t.Errorf("fault on %s never fired: the test did not exercise it", f.Operation)
		}
	}
	a.proxy.Set()
	for _, id := range ids {
		if keys, err := a.check.StoredKeys(ctx, id); err != nil || len(keys) > 0 {
			t.Errorf("%s: the record holds key material at %v (%v)", id, keys, err)
		}
		if st, err := a.check.Status(ctx, served[id]); err != nil || st != iottypes.CertificateStatusRevoked {
			t.Errorf("%s: the server certificate is %s (%v), want REVOKED", id, st, err)
		}
		if rec, _ := store.Get(ctx, id); rec.KeyMode != simrec.KeyModeDevice || rec.EnrolCount != 1 {
			t.Errorf("%s: key mode %q after %d enrolments, want device after 1", id, rec.KeyMode, rec.EnrolCount)
		}
	}
	holds(t, a, simrec.AuthorityOwn, nil)
	dlqEmpty(t, a)
}

// enrol is the enrol command onboarding-api sends for a fresh request of
// kind, computed against the SIM's record as it is now.
func enrol(t *testing.T, store *simstore.Dynamo, id string, kind testkit.CSRKind) events.SimCommand {
	t.Helper()
	rec, err := store.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := testkit.NewCSR(t, kind)
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return events.SimCommand{Kind: events.KindEnrol, ICCID: id, BaseVersion: rec.Version, BaseCommand: rec.LastCommand,
		ID: events.EnrolID(id, csr.RawSubjectPublicKeyInfo), CSR: string(testkit.CSRPEM(der)), ObservedAt: time.Now()}
}

// In key mode device a new SIM gets its Thing and an active record but no
// key and no certificate; its device's enrolment gives it its one
// certificate, and the other SIM keeps waiting.
func TestDeviceModeMakesNoServerKey(t *testing.T) {
	t.Parallel()
	a := newAccount(t, bootstrap.Options{MaxReceiveCount: 5})
	startProvisioner(t, a, options{workers: 2, keyMode: simrec.KeyModeDevice})
	ctx := context.Background()
	store := simstore.NewDynamo(dynamodb.NewFromConfig(a.cfg), a.res.Table())
	ids := []string{iccid(1), iccid(2)}
	for i, id := range ids {
		publish(t, a, create(id, fmt.Sprintf("10.8.0.%d", i+1)))
	}
	eventually(t, time.Minute, "SIMs wait for their devices", func() error {
		return errors.Join(a.check.AwaitingEnrolment(ctx, ids[0]), a.check.AwaitingEnrolment(ctx, ids[1]))
	})
	for _, id := range ids {
		if keys, err := a.check.StoredKeys(ctx, id); err != nil || len(keys) > 0 {
			t.Fatalf("%s: key material at %v (%v)", id, keys, err)
		}
	}
	publish(t, a, enrol(t, store, ids[0], testkit.CSRRSA2048))
	eventually(t, time.Minute, "the device enrolled", func() error { return a.check.Active(ctx, ids[0]) })
	if err := a.check.AwaitingEnrolment(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	holds(t, a, simrec.AuthorityOwn, nil)
}
