package iotcore_test

import (
	"context"
	"crypto/sha256"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/simbridge/simbridge/libs/iotca"
	"github.com/simbridge/simbridge/libs/iotcore"
	"github.com/simbridge/simbridge/libs/testkit"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

func TestCertificateLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	api := iot.NewFromConfig(testkit.AWSConfig(t))
	c := iotcore.New(api)
	thing, policy := testkit.Name(t), testkit.Name(t)
	if _, err := api.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String(policy), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`)}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if got, err := c.EnsureThing(ctx, iotcore.ThingSpec{Name: thing}); err != nil || !got.Managed || got.Created != (i == 0) {
			t.Fatalf("EnsureThing must be repeatable, mark the thing managed and say when it created it: %+v %v", got, err)
		}
	}
	foreign := testkit.Name(t)
	if _, err := api.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(foreign)}); err != nil {
		t.Fatal(err)
	}
	if got, err := c.EnsureThing(ctx, iotcore.ThingSpec{Name: foreign}); err != nil || got.Managed || got.Created {
		t.Fatalf("a thing created elsewhere is not managed: %+v %v", got, err)
	}
	for name, want := range map[string]bool{thing: true, foreign: false, "no-such-thing-" + thing: false} {
		if got, err := c.Managed(ctx, name); err != nil || got != want {
			t.Fatalf("Managed(%s) = %v, %v; want %v", name, got, err, want)
		}
	}
	if _, err := api.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("no-such-thing-" + thing)}); err == nil {
		t.Fatal("Managed created a thing")
	}
	if ps, err := c.ThingPrincipals(ctx, "no-such-thing-"+thing); err != nil || len(ps) != 0 {
		t.Fatalf("missing thing: %v %v", ps, err)
	}
	cert, err := c.CreateCertificate(ctx)
	if err != nil || cert.PrivateKey == "" || cert.PEM == "" {
		t.Fatalf("create: %+v %v", cert.ID, err)
	}
	if block, _ := pem.Decode([]byte(cert.PEM)); block == nil || fmt.Sprintf("%x", sha256.Sum256(block.Bytes)) != cert.ID {
		t.Fatalf("certificate id %s is not the SHA-256 of the DER, as AWS computes it", cert.ID)
	}
	if got := status(t, api, cert.ID); got != types.CertificateStatusInactive {
		t.Fatalf("new certificate must start inactive, is %s", got)
	}
	for range 2 {
		if err := c.Attach(ctx, thing, policy, cert.ARN); err != nil {
			t.Fatalf("Attach must be repeatable: %v", err)
		}
	}
	if err := c.SetActive(ctx, cert.ID, true); err != nil {
		t.Fatal(err)
	}
	if got := status(t, api, cert.ID); got != types.CertificateStatusActive {
		t.Fatalf("status %s", got)
	}
	ps, err := c.ThingPrincipals(ctx, thing)
	if err != nil || len(ps) != 1 || ps[0] != cert.ARN {
		t.Fatalf("principals %v %v", ps, err)
	}
	if iotcore.CertificateID(cert.ARN) != cert.ID {
		t.Fatalf("CertificateID(%s) != %s", cert.ARN, cert.ID)
	}
	for range 2 {
		if err := c.Retire(ctx, thing, cert.ARN); err != nil {
			t.Fatalf("Retire must be repeatable: %v", err)
		}
	}
	if ps, _ := c.ThingPrincipals(ctx, thing); len(ps) != 0 {
		t.Fatalf("still attached: %v", ps)
	}
	if _, err := api.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(cert.ID)}); err == nil {
		t.Fatal("retired certificate still exists")
	}
}

func status(t *testing.T, api *iot.Client, id string) types.CertificateStatus {
	t.Helper()
	d, err := api.DescribeCertificate(context.Background(), &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	return d.CertificateDescription.Status
}

// Registering an own-CA certificate twice is success (the id is known in
// advance); a REVOKED certificate is never reactivated; an unknown one is
// reported as such, so callers can tell "not registered yet" from failure.
func TestRegisterAndStatuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testkit.AWSConfig(t)
	api := iot.NewFromConfig(cfg)
	c := iotcore.New(api)
	k := kms.NewFromConfig(cfg)
	key, err := k.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: kmstypes.KeySpecEccNistP256, KeyUsage: kmstypes.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := iotca.NewSigner(ctx, k, aws.ToString(key.KeyMetadata.Arn))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := iotca.Ensure(ctx, signer, api, ssm.NewFromConfig(cfg), iotca.Setup{Name: testkit.Name(t), Parameter: testkit.Name(t)})
	if err != nil {
		t.Fatal(err)
	}
	is, err := ca.Issue(ctx, "8988280666000000077", iotca.KeyECP256, 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	arn, existed, err := c.Register(ctx, is.CertPEM, ca.PEM)
	if err != nil || existed || iotcore.CertificateID(arn) != is.ID {
		t.Fatalf("first registration: %s existed=%v %v", arn, existed, err)
	}
	if got := status(t, api, is.ID); got != types.CertificateStatusActive {
		t.Fatalf("registered %s, want ACTIVE", got)
	}
	again, existed, err := c.Register(ctx, is.CertPEM, ca.PEM)
	if err != nil || !existed || again != arn {
		t.Fatalf("second registration must be success for the same certificate: %s existed=%v %v", again, existed, err)
	}
	if err := c.SetStatus(ctx, is.ID, iotcore.StatusRevoked); err != nil {
		t.Fatal(err)
	}
	if err := c.SetStatus(ctx, is.ID, iotcore.StatusActive); !errors.Is(err, iotcore.ErrCertificateRevoked) {
		t.Fatalf("reactivating a revoked certificate: %v, want ErrCertificateRevoked", err)
	}
	if err := c.SetStatus(ctx, strings.Repeat("ab", 32), iotcore.StatusInactive); !errors.Is(err, iotcore.ErrCertificateNotFound) {
		t.Fatalf("unknown certificate: %v, want ErrCertificateNotFound", err)
	}
	if got, err := c.ARN(ctx, is.ID); err != nil || got != arn {
		t.Fatalf("ARN = %s, %v", got, err)
	}
}
