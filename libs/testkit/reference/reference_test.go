package reference_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/simbridge/simbridge/libs/iotca"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/reference"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

// refItem is an item of the reference's table as its Lambdas read it.
type refItem struct {
	PK, SK string
	I      string `dynamodbav:"i"`
	IP     string `dynamodbav:"ip"`
	Crt    string `dynamodbav:"crt"`
	Prk    string `dynamodbav:"prk"`
	A      bool   `dynamodbav:"a"`
	Ct     string `dynamodbav:"ct"`
	Ut     string `dynamodbav:"ut"`
}

// TestBuildMakesTheReferenceState: the table, the Things, the certificates
// and their attachments are what the reference leaves, faults included.
func TestBuildMakesTheReferenceState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testkit.AWSConfig(t)
	name := testkit.Name(t)
	old := time.Date(2024, 5, 6, 7, 8, 9, 123e6, time.UTC)
	specs := []reference.Spec{
		{ICCID: "8988280666099000001", IP: "10.9.0.1", Active: true},
		{ICCID: "8988280666099000002", IP: "10.9.0.2", Active: false},
		{ICCID: "8988280666099000003", IP: "10.9.0.3", Active: true, Fault: reference.KeyMismatch},
		{ICCID: "8988280666099000004", IP: "10.9.0.4", Active: true, Fault: reference.MissingCertificate},
		{ICCID: "8988280666099000005", IP: "10.9.0.50", Active: false, Updated: old},
		{ICCID: "8988280666099000005", IP: "10.9.0.5", Active: true},
	}
	ref, err := reference.Build(ctx, cfg, reference.Options{Table: name, Policy: name + "-device-onboarding"}, specs)
	if err != nil {
		t.Fatal(err)
	}
	out, err := dynamodb.NewFromConfig(cfg).Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	var items []refItem
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &items); err != nil {
		t.Fatal(err)
	}
	byPK := map[string]refItem{}
	for _, it := range items {
		byPK[it.PK] = it
	}
	api := iot.NewFromConfig(cfg)
	for _, want := range ref.Items {
		got, ok := byPK["IP#"+want.IP]
		if !ok || got.SK != "P#MQTT" || got.I != want.ICCID || got.IP != want.IP || got.A != want.Active || got.Crt != want.CertificatePEM ||
			got.Prk != want.PrivateKeyPEM || got.Ct == "" || got.Ct != got.Ut {
			t.Errorf("item at %s: %+v", want.IP, got.PK)
			continue
		}
		cert, err := iotca.ParseCertificate(got.Crt)
		if err != nil || iotca.CertificateID(cert.Raw) != want.CertificateID {
			t.Errorf("%s: certificate id is not the SHA-256 of the DER (%v)", want.IP, err)
		}
		if !strings.HasPrefix(got.Prk, "-----BEGIN RSA PRIVATE KEY-----\n") || !strings.HasSuffix(got.Prk, "\n") {
			t.Errorf("%s: key is not PKCS#1 PEM with \\n line endings as CreateKeysAndCertificate answers", want.IP)
		}
		keyErr := iotca.KeyMatches(got.Crt, got.Prk)
		if (want.Fault == reference.KeyMismatch) != errors.Is(keyErr, iotca.ErrKeyMismatch) {
			t.Errorf("%s (%q): key check %v", want.IP, want.Fault, keyErr)
		}
		d, err := api.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(want.CertificateID)})
		var nf *iottypes.ResourceNotFoundException
		if want.Fault == reference.MissingCertificate {
			if !errors.As(err, &nf) {
				t.Errorf("%s: the missing certificate is there (%v)", want.IP, err)
			}
			continue
		}
		if err != nil || d.CertificateDescription.Status != iottypes.CertificateStatusActive {
			t.Errorf("%s: certificate %v (%v); the reference never deactivates", want.IP, d, err)
			continue
		}
		things, _ := api.ListPrincipalThings(ctx, &iot.ListPrincipalThingsInput{Principal: aws.String(want.CertificateARN)})
		pols, _ := api.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: aws.String(want.CertificateARN)})
		if things == nil || !slices.Equal(things.Things, []string{want.ICCID}) || pols == nil || len(pols.Policies) != 1 ||
			aws.ToString(pols.Policies[0].PolicyName) != ref.Policy {
			t.Errorf("%s: attached to %v, policies %v", want.IP, things, pols)
		}
	}
	if len(items) != len(specs) {
		t.Errorf("%d items for %d specs", len(items), len(specs))
	}
	if got := byPK["IP#10.9.0.50"].Ut; got != "2024-05-06T07:08:09.123Z" {
		t.Errorf("ut %q: want JavaScript's toISOString", got)
	}
	dup := ref.ByICCID("8988280666099000005")
	principals, err := api.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String("8988280666099000005")})
	if err != nil || len(dup) != 2 || len(principals.Principals) != 2 {
		t.Errorf("a SIM that moved: %d items, thing principals %v (%v)", len(dup), principals, err)
	}
	thing, err := api.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("8988280666099000001")})
	if err != nil || thing.Attributes["ICCID"] != "8988280666099000001" {
		t.Errorf("thing %+v (%v)", thing, err)
	}
}
