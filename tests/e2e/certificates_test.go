package e2e_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/google/uuid"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/iotca"
	"github.com/simbridge/simbridge/libs/iotcore"
	"github.com/simbridge/simbridge/libs/messaging"
	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/tools/devstack"
)

// TestDeviceCertificateLifecycle: with the account's own CA (the default),
// a device's certificate chains to the CA registered in IoT Core and
// matches its key; a reissue gives the device a new certificate and REVOKES
// the old one; a revoke takes access away at once, REVOKED, and survives
// syncs while 1NCE still lists the SIM as Enabled; once the SIM was disabled
// and enabled again in 1NCE the device gets a fresh certificate (a revoked
// one is never reactivated).
func TestDeviceCertificateLifecycle(t *testing.T) {
	// No Data Streamer: each step's change is the full sync's to make (a
	// hint would make it first, and the sync would rightly leave it alone).
	s := startStack(t, devstack.Options{SIMs: 2, SyncInterval: time.Hour, ShutdownTimeout: 10 * time.Second, NoDataStreamer: true,
		Env: map[string][]string{"sim-poller": {"SYNC_ON_START=false"}}})
	ctx := context.Background()
	cfg := testkit.AWSConfigFor(t, s.AWSEndpoint())
	iotAPI := iot.NewFromConfig(cfg)
	store := simstore.NewDynamo(dynamodb.NewFromConfig(cfg), s.Resources.Table())
	syncPublishes(t, s, map[string]int{"create": 2})
	reissued, revoked := ips[0], ips[1]
	first := map[string]string{}
	for _, ip := range []string{reissued, revoked} {
		creds, id := onboarded(t, s, ip)
		if err := testkit.ChainsTo(creds.Certificate, s.Resources.CACertificatePEM); err != nil {
			t.Fatalf("device %s: certificate does not chain to the account's CA: %v", ip, err)
		}
		if !registeredWithCA(t, iotAPI, s.Resources.CACertificatePEM, id) {
			t.Fatalf("device %s: certificate %s not registered with the CA in IoT Core", ip, id)
		}
		first[ip] = id
	}

	t.Log("reissue: the device fetches a new certificate; the old one is REVOKED and detached")
	command(t, s, store, events.KindReissue, iccidOf(t, s, reissued))
	var renewed string
	eventually(t, time.Minute, "device gets the reissued certificate", func() error {
		_, renewed = onboarded(t, s, reissued)
		if renewed == first[reissued] {
			return fmt.Errorf("still the old certificate")
		}
		return nil
	})
	waitCertStatus(t, iotAPI, first[reissued], iottypes.CertificateStatusRevoked)
	waitCertStatus(t, iotAPI, renewed, iottypes.CertificateStatusActive)
	principals, _ := iotcore.New(iotAPI).ThingPrincipals(ctx, iccidOf(t, s, reissued))
	if len(principals) != 1 || iotcore.CertificateID(principals[0]) != renewed {
		t.Errorf("thing principals %v, want only the new certificate", principals)
	}

	t.Log("revoke: the device is refused at once, its certificate REVOKED; syncs keep it so")
	revokedICCID := iccidOf(t, s, revoked)
	command(t, s, store, events.KindRevoke, revokedICCID)
	refused(t, s, revoked)
	waitCertStatus(t, iotAPI, first[revoked], iottypes.CertificateStatusRevoked)
	syncPublishes(t, s, map[string]int{})
	refused(t, s, revoked)

	t.Log("disabled and enabled again in 1NCE: a fresh certificate, never the revoked one")
	if err := admin(s).SetStatus(ctx, revokedICCID, onceapi.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	syncPublishes(t, s, map[string]int{"disable": 1})
	eventually(t, 30*time.Second, "the record notes the SIM disabled in 1NCE", func() error {
		rec, err := store.Get(ctx, revokedICCID)
		if err != nil || rec.Status != onceapi.StatusDisabled || rec.CurrentState() != simrec.StateRevoked {
			return fmt.Errorf("record %s/%s (%v)", rec.CurrentState(), rec.Status, err)
		}
		return nil
	})
	if err := admin(s).SetStatus(ctx, revokedICCID, onceapi.StatusEnabled); err != nil {
		t.Fatal(err)
	}
	syncPublishes(t, s, map[string]int{"create": 1})
	_, fresh := onboarded(t, s, revoked)
	if fresh == first[revoked] {
		t.Fatal("the revoked certificate was handed out again")
	}
	waitCertStatus(t, iotAPI, fresh, iottypes.CertificateStatusActive)
	if got := certStatus(t, iotAPI, first[revoked]); got != iottypes.CertificateStatusRevoked {
		t.Errorf("the revoked certificate is %s again", got)
	}
}

// command publishes an operator's command for a SIM, computed against its
// record as it is now (what `simbridge reissue|revoke` does).
func command(t *testing.T, s *devstack.Stack, store *simstore.Dynamo, kind events.Kind, iccid string) {
	t.Helper()
	rec, err := store.Get(context.Background(), iccid)
	if err != nil {
		t.Fatal(err)
	}
	cmd := events.SimCommand{Kind: kind, ICCID: iccid, BaseVersion: rec.Version, BaseCommand: rec.LastCommand,
		ID: uuid.NewString(), RequestedBy: "e2e", ObservedAt: time.Now()}
	pub := messaging.NewSQSPublisher(testkit.AWSConfigFor(t, s.AWSEndpoint()), slog.New(slog.DiscardHandler))
	msg, err := messaging.NewCommandMessage(cmd)
	if err != nil {
		t.Fatal(err)
	}
	queue := s.Resources.CreateQueue()
	if kind.Queue() == events.DisableQueue {
		queue = s.Resources.DisableQueue()
	}
	if err := pub.Publish(queue, msg); err != nil {
		t.Fatal(err)
	}
}

// registeredWithCA reports whether IoT Core lists the certificate under the CA.
func registeredWithCA(t *testing.T, api *iot.Client, caPEM, id string) bool {
	t.Helper()
	ca, err := iotca.ParseCertificate(caPEM)
	if err != nil {
		t.Fatal(err)
	}
	out, err := api.ListCertificatesByCA(context.Background(), &iot.ListCertificatesByCAInput{CaCertificateId: aws.String(iotca.CertificateID(ca.Raw))})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range out.Certificates {
		if aws.ToString(c.CertificateId) == id {
			return true
		}
	}
	return false
}
