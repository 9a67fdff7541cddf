// Package reference builds, in an AWS account (the emulator), the state 1NCE's
// open-source reference system ("1nce-iot-device-onboarding") leaves behind,
// exactly as it builds it, so that taking it over (`simbridge adopt`) is
// tested against the real shape:
//
//   - one DynamoDB table (its default name is sim-metastore, on-demand), key
//     PK = "IP#<ip>" and SK = "P#MQTT", attributes i (ICCID), ip, crt (the
//     certificate PEM), prk (the private key PEM, in plain text), a (active),
//     ct and ut (ISO 8601 times as JavaScript writes them);
//   - one Thing per SIM named by the ICCID, with the attribute ICCID;
//   - one certificate per item from CreateKeysAndCertificate (ACTIVE, Amazon's
//     CA), attached to the Thing and to the reference's IoT policy (its
//     default name is device-onboarding);
//   - a disabled SIM only has a = false: its certificate stays ACTIVE;
//   - a SIM whose IP changed has a second, older item at the old IP with an
//     older certificate, still attached to the Thing.
//
// Faults break single items the way deployments of it end up broken.
package reference

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
)

// Options name the reference's resources; every test gives its own.
type Options struct {
	// Table is the SIM table (the reference's default: sim-metastore).
	Table string
	// Policy is the IoT policy every certificate gets (the reference's
	// default: device-onboarding).
	Policy string
}

// Fault breaks one item.
type Fault string

// Faults an item can have.
const (
	// Healthy: the item, its certificate and its Thing agree.
	Healthy Fault = ""
	// KeyMismatch: prk holds a key that is not the certificate's.
	KeyMismatch Fault = "key-mismatch"
	// MissingCertificate: the certificate crt holds is gone from IoT Core
	// (deleted by hand) while the item still names it.
	MissingCertificate Fault = "missing-certificate"
)

// Spec is one item to build. Two specs with one ICCID make two items for
// one SIM (an IP change: give the older one Active false and an earlier
// Updated), both certificates attached to the one Thing.
type Spec struct {
	ICCID, IP string
	// Active is the item's a; false is what the reference's disable does
	// (only a flips; the certificate stays ACTIVE).
	Active bool
	Fault  Fault
	// Updated is the item's ct and ut (zero: now).
	Updated time.Time
}

// Item is one item as built.
type Item struct {
	Spec
	// CertificateID, CertificateARN and CertificatePEM are what
	// CreateKeysAndCertificate answered; PrivateKeyPEM is the item's prk
	// (another key for KeyMismatch).
	CertificateID, CertificateARN, CertificatePEM, PrivateKeyPEM string
}

// Reference is the state built.
type Reference struct {
	Options
	Items []Item
}

// ByICCID returns the items of one SIM.
func (r *Reference) ByICCID(iccid string) []Item {
	var out []Item
	for _, it := range r.Items {
		if it.ICCID == iccid {
			out = append(out, it)
		}
	}
	return out
}

// Build creates the table, the policy and, for each spec in order, the
// certificate, the Thing (once per ICCID) and the item, then applies the
// faults.
func Build(ctx context.Context, cfg aws.Config, opts Options, specs []Spec) (*Reference, error) {
	if opts.Table == "" || opts.Policy == "" {
		return nil, errors.New("reference: table and policy names are required")
	}
	b := &builder{db: dynamodb.NewFromConfig(cfg), iot: iot.NewFromConfig(cfg), things: map[string]bool{}}
	if err := b.table(ctx, opts.Table); err != nil {
		return nil, err
	}
	if err := b.policy(ctx, cfg, opts.Policy); err != nil {
		return nil, err
	}
	ref := &Reference{Options: opts}
	for _, s := range specs {
		it, err := b.item(ctx, opts, s)
		if err != nil {
			return nil, fmt.Errorf("reference item %s at %s: %w", s.ICCID, s.IP, err)
		}
		ref.Items = append(ref.Items, it)
	}
	return ref, nil
}

type builder struct {
	db     *dynamodb.Client
	iot    *iot.Client
	things map[string]bool
}

// table creates the reference's table as its template does.
func (b *builder) table(ctx context.Context, name string) error {
	_, err := b.db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String("PK"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("SK"), AttributeType: ddbtypes.ScalarAttributeTypeS},
		},
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String("PK"), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String("SK"), KeyType: ddbtypes.KeyTypeRange},
		},
	})
	if err != nil {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	return nil
}

// policy creates the reference's device policy: the same statements as
// simbridge's (connect as the Thing, topics under its name).
func (b *builder) policy(ctx context.Context, cfg aws.Config, name string) error {
	who, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return fmt.Errorf("find account: %w", err)
	}
	doc := bootstrap.DevicePolicy("aws", cfg.Region, aws.ToString(who.Account))
	if _, err := b.iot.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(doc)}); err != nil {
		return fmt.Errorf("create policy %s: %w", name, err)
	}
	return nil
}

// item does what the reference's create-sim Lambda does for one SIM, then
// what its disable does, then the fault.
func (b *builder) item(ctx context.Context, opts Options, s Spec) (Item, error) {
	created, err := b.iot.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true})
	if err != nil {
		return Item{}, fmt.Errorf("create keys and certificate: %w", err)
	}
	it := Item{Spec: s, CertificateID: aws.ToString(created.CertificateId), CertificateARN: aws.ToString(created.CertificateArn),
		CertificatePEM: aws.ToString(created.CertificatePem), PrivateKeyPEM: aws.ToString(created.KeyPair.PrivateKey)}
	if _, err := b.iot.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(opts.Policy), Target: created.CertificateArn}); err != nil {
		return it, fmt.Errorf("attach policy: %w", err)
	}
	if !b.things[s.ICCID] { // moto's CreateThing replaces an existing Thing
		_, err := b.iot.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(s.ICCID),
			AttributePayload: &iottypes.AttributePayload{Attributes: map[string]string{"ICCID": s.ICCID}}})
		if err != nil {
			return it, fmt.Errorf("create thing: %w", err)
		}
		b.things[s.ICCID] = true
	}
	if _, err := b.iot.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String(s.ICCID), Principal: created.CertificateArn}); err != nil {
		return it, fmt.Errorf("attach thing principal: %w", err)
	}
	switch s.Fault {
	case Healthy:
	case KeyMismatch:
		if it.PrivateKeyPEM, err = otherKey(); err != nil {
			return it, err
		}
	case MissingCertificate:
		if err := b.deleteCertificate(ctx, opts, it); err != nil {
			return it, err
		}
	default:
		return it, fmt.Errorf("unknown fault %q", s.Fault)
	}
	return it, b.put(ctx, opts.Table, it)
}

// put writes the item as the reference's SIM.toItem does, with its a.
func (b *builder) put(ctx context.Context, table string, it Item) error {
	at := it.Updated
	if at.IsZero() {
		at = time.Now()
	}
	iso := at.UTC().Format("2006-01-02T15:04:05.000Z") // JavaScript's toISOString
	s := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
	_, err := b.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]ddbtypes.AttributeValue{
		"PK": s("IP#" + it.IP), "SK": s("P#MQTT"), "crt": s(it.CertificatePEM), "prk": s(it.PrivateKeyPEM),
		"ct": s(iso), "ut": s(iso), "i": s(it.ICCID), "ip": s(it.IP), "a": &ddbtypes.AttributeValueMemberBOOL{Value: it.Active},
	}})
	if err != nil {
		return fmt.Errorf("put item: %w", err)
	}
	return nil
}

// deleteCertificate removes the certificate as someone cleaning up by hand
// would: INACTIVE, detached from the policy and the Thing, deleted.
func (b *builder) deleteCertificate(ctx context.Context, opts Options, it Item) error {
	arn := aws.String(it.CertificateARN)
	steps := []func() error{
		func() error {
			_, err := b.iot.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(it.CertificateID), NewStatus: iottypes.CertificateStatusInactive})
			return err
		},
		func() error {
			_, err := b.iot.DetachPolicy(ctx, &iot.DetachPolicyInput{PolicyName: aws.String(opts.Policy), Target: arn})
			return err
		},
		func() error {
			_, err := b.iot.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String(it.ICCID), Principal: arn})
			return err
		},
		func() error {
			_, err := b.iot.DeleteCertificate(ctx, &iot.DeleteCertificateInput{CertificateId: aws.String(it.CertificateID)})
			return err
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return fmt.Errorf("delete certificate %s: %w", it.CertificateID, err)
		}
	}
	return nil
}

// otherKey is an RSA-2048 key in the PEM form CreateKeysAndCertificate
// answers (PKCS#1), belonging to no certificate.
func otherKey() (string, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})), nil
}
