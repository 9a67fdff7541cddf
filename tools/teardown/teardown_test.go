package teardown_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/simbridge/simbridge/libs/iotca"
	"github.com/simbridge/simbridge/libs/iotcore"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
	"github.com/simbridge/simbridge/tools/teardown"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

// provision does what the provisioner does for one SIM: thing (unless it
// exists), active certificate attached to it and to the policy.
func provision(t *testing.T, api *iot.Client, thing, policy string) string {
	t.Helper()
	ctx := context.Background()
	c := iotcore.New(api)
	if _, err := c.EnsureThing(ctx, iotcore.ThingSpec{Name: thing}); err != nil {
		t.Fatal(err)
	}
	cert, err := c.CreateCertificate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Attach(ctx, thing, policy, cert.ARN); err != nil {
		t.Fatal(err)
	}
	if err := c.SetActive(ctx, cert.ID, true); err != nil {
		t.Fatal(err)
	}
	return cert.ID
}

func TestRunRemovesOnlyTheEnvironmentsIoTObjects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testkit.AWSConfig(t)
	api := iot.NewFromConfig(cfg)
	env := bootstrap.Names{Prefix: testkit.Name(t)}
	other := bootstrap.Names{Prefix: testkit.Name(t) + "-other"}
	for _, n := range []bootstrap.Names{env, other} {
		if _, err := bootstrap.Ensure(ctx, cfg, n, bootstrap.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	suffix := time.Now().Format("150405.000000")
	managed := []string{"sim-a-" + suffix, "sim-b-" + suffix}
	var certs []string
	for _, thing := range managed {
		certs = append(certs, provision(t, api, thing, env.Policy()))
	}
	// A thing that existed before simbridge (no managed-by attribute) got a certificate from it.
	foreign := "legacy-" + suffix
	if _, err := api.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(foreign)}); err != nil {
		t.Fatal(err)
	}
	foreignCert := provision(t, api, foreign, env.Policy())
	// Another environment's SIM must survive.
	otherThing := "sim-other-" + suffix
	otherCert := provision(t, api, otherThing, other.Policy())

	// A SIM whose provisioning stopped before its certificate got the policy:
	// only the SIM table names its Thing.
	stuck := "sim-stuck-" + suffix
	c := iotcore.New(api)
	if _, err := c.EnsureThing(ctx, iotcore.ThingSpec{Name: stuck}); err != nil {
		t.Fatal(err)
	}
	stuckCert, err := c.CreateCertificate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AttachToThing(ctx, stuck, stuckCert.ARN); err != nil {
		t.Fatal(err)
	}
	// A certificate of the environment's own CA, registered but never given
	// the policy (an attempt that stopped after registering it).
	res, err := bootstrap.Ensure(ctx, cfg, env, bootstrap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := iotca.NewSigner(ctx, kms.NewFromConfig(cfg), res.CAKeyARN)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := iotca.Load(ctx, signer, ssm.NewFromConfig(cfg), env.CAParameter())
	if err != nil {
		t.Fatal(err)
	}
	issued, err := ca.Issue(ctx, "8988280666000000999", iotca.KeyECP256, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Register(ctx, issued.CertPEM, ca.PEM); err != nil {
		t.Fatal(err)
	}
	caOpts := func(o teardown.Options) teardown.Options {
		o.CAParameter, o.Params, o.ThingGroup = env.CAParameter(), ssm.NewFromConfig(cfg), env.ThingGroup()
		return o
	}
	recorded := func(ctx context.Context, fn func(string) error) error {
		for _, thing := range []string{stuck, managed[0], otherThing + "-never-created"} {
			if err := fn(thing); err != nil {
				return err
			}
		}
		return nil
	}
	managed = append(managed, stuck)
	slices.Sort(managed)

	var log bytes.Buffer
	dry, err := teardown.Run(ctx, api, caOpts(teardown.Options{Policy: env.Policy(), DryRun: true, Log: &log, RecordedThings: recorded}))
	if err != nil || len(dry.Certificates) != 5 || len(dry.Things) != 3 || dry.CA == "" {
		t.Fatalf("dry run = %+v, %v", dry, err)
	}
	if _, err := api.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(managed[0])}); err != nil {
		t.Fatalf("dry run changed something: %v", err)
	}

	rep, err := teardown.Run(ctx, api, caOpts(teardown.Options{Policy: env.Policy(), Log: &log, RecordedThings: recorded}))
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	slices.Sort(rep.Things)
	if !slices.Equal(rep.Things, managed) || !slices.Equal(rep.KeptThings, []string{foreign}) || !rep.PolicyRemoved {
		t.Fatalf("report = %+v", rep)
	}
	cases := []struct {
		name    string
		check   func() error
		present bool
	}{
		{"managed thing a", describeThing(api, managed[0]), false},
		{"managed thing b", describeThing(api, managed[1]), false},
		{"stuck thing", describeThing(api, stuck), false},
		{"stuck thing's certificate", describeCert(api, stuckCert.ID), false},
		{"certificate a", describeCert(api, certs[0]), false},
		{"certificate b", describeCert(api, certs[1]), false},
		{"foreign thing's certificate", describeCert(api, foreignCert), false},
		{"policy", getPolicy(api, env.Policy()), false},
		{"the CA's certificate without the policy", describeCert(api, issued.ID), false},
		{"the IoT CA", describeCA(api, iotca.CertificateID(ca.Cert.Raw)), false},
		{"the CA parameter", getParam(cfg, env.CAParameter()), false},
		{"foreign thing", describeThing(api, foreign), true},
		{"other environment's thing", describeThing(api, otherThing), true},
		{"other environment's certificate", describeCert(api, otherCert), true},
		{"other environment's policy", getPolicy(api, other.Policy()), true},
	}
	for _, c := range cases {
		err := c.check()
		var nf *types.ResourceNotFoundException
		gone := err != nil && strings.Contains(err.Error(), "NotFound") || errors.As(err, &nf)
		if c.present == gone {
			t.Errorf("%s: present=%v, err=%v", c.name, !gone, err)
		}
	}

	again, err := teardown.Run(ctx, api, caOpts(teardown.Options{Policy: env.Policy()}))
	if err != nil || len(again.Certificates) != 0 {
		t.Fatalf("second run = %+v, %v (must be a no-op)", again, err)
	}
}

func TestRunNeedsPolicy(t *testing.T) {
	t.Parallel()
	if _, err := teardown.Run(context.Background(), nil, teardown.Options{}); err == nil {
		t.Fatal("want error")
	}
}

func describeThing(api *iot.Client, name string) func() error {
	return func() error {
		_, err := api.DescribeThing(context.Background(), &iot.DescribeThingInput{ThingName: aws.String(name)})
		return err
	}
}

func describeCert(api *iot.Client, id string) func() error {
	return func() error {
		_, err := api.DescribeCertificate(context.Background(), &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
		return err
	}
}

func getPolicy(api *iot.Client, name string) func() error {
	return func() error {
		_, err := api.GetPolicy(context.Background(), &iot.GetPolicyInput{PolicyName: aws.String(name)})
		return err
	}
}

func describeCA(api *iot.Client, id string) func() error {
	return func() error {
		_, err := api.DescribeCACertificate(context.Background(), &iot.DescribeCACertificateInput{CertificateId: aws.String(id)})
		return err
	}
}

func getParam(cfg aws.Config, name string) func() error {
	return func() error {
		_, err := ssm.NewFromConfig(cfg).GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(name)})
		return err
	}
}
