package testkit

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/simbridge/simbridge/libs/keyseal"
	"github.com/simbridge/simbridge/libs/simstore"
)

// Provisioning checks the provisioning invariant in an account: exactly one
// ACTIVE certificate per active SIM, attached to its Thing with the policy,
// referenced by its record, its sealed key matching it; no other certificate
// of a SIM's Thing; no ACTIVE certificate without an active record.
type Provisioning struct {
	cfg    aws.Config
	store  *simstore.Dynamo
	iot    *iot.Client
	opener *keyseal.Opener
	policy string
}

// NewProvisioning checks resources of table and policy.
func NewProvisioning(cfg aws.Config, table, policy string) *Provisioning {
	return &Provisioning{cfg: cfg, store: simstore.NewDynamo(dynamodb.NewFromConfig(cfg), table),
		iot: iot.NewFromConfig(cfg), opener: keyseal.NewOpener(kms.NewFromConfig(cfg), ""), policy: policy}
}

// Active returns nil when the SIM is onboardable and everything about it is
// consistent, else what is wrong.
func (p *Provisioning) Active(ctx context.Context, iccid string) error {
	rec, err := p.store.Get(ctx, iccid)
	if err != nil {
		return err
	}
	if !rec.Active || !rec.HasCredentials() {
		return fmt.Errorf("%s: record active=%v credentials=%v", iccid, rec.Active, rec.HasCredentials())
	}
	if err := p.certificate(ctx, rec, iottypes.CertificateStatusActive); err != nil {
		return err
	}
	principals, err := p.iot.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String(rec.ThingName)})
	if err != nil {
		return err
	}
	if len(principals.Principals) != 1 || principals.Principals[0] != rec.CertificateARN {
		return fmt.Errorf("%s: thing principals %v, want only %s", iccid, principals.Principals, rec.CertificateARN)
	}
	pols, err := p.iot.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: aws.String(rec.CertificateARN)})
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(pols.Policies, func(x iottypes.Policy) bool { return aws.ToString(x.PolicyName) == p.policy }) {
		return fmt.Errorf("%s: policy %s not attached", iccid, p.policy)
	}
	return p.keyMatches(ctx, rec)
}

// Inactive returns nil when the SIM's record is inactive and its
// certificate INACTIVE.
func (p *Provisioning) Inactive(ctx context.Context, iccid string) error {
	rec, err := p.store.Get(ctx, iccid)
	if err != nil {
		return err
	}
	if rec.Active {
		return fmt.Errorf("%s: record still active", iccid)
	}
	return p.certificate(ctx, rec, iottypes.CertificateStatusInactive)
}

func (p *Provisioning) certificate(ctx context.Context, rec simstore.Record, want iottypes.CertificateStatus) error {
	d, err := p.iot.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(rec.CertificateID)})
	if err != nil {
		return fmt.Errorf("%s: %w", rec.ICCID, err)
	}
	if got := d.CertificateDescription.Status; got != want {
		return fmt.Errorf("%s: certificate %s is %s, want %s", rec.ICCID, rec.CertificateID, got, want)
	}
	return nil
}

func (p *Provisioning) keyMatches(ctx context.Context, rec simstore.Record) error {
	key, err := p.opener.Open(ctx, rec.ICCID, rec.PrivateKeyCiphertext)
	if err != nil {
		return err
	}
	cb, _ := pem.Decode([]byte(rec.CertificatePEM))
	kb, _ := pem.Decode(key)
	if cb == nil || kb == nil {
		return fmt.Errorf("%s: certificate or key is not PEM", rec.ICCID)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return err
	}
	priv, err := x509.ParsePKCS1PrivateKey(kb.Bytes)
	if err != nil {
		return err
	}
	if !priv.PublicKey.Equal(cert.PublicKey.(crypto.PublicKey)) {
		return fmt.Errorf("%s: sealed key does not match the certificate", rec.ICCID)
	}
	return nil
}

// Strays lists the account's certificates not referenced by a record: none
// may be ACTIVE or attached to a Thing. It returns how many such inactive,
// unattached certificates exist (left by a crash inside the one window no
// IoT API can close) or an error naming the first offending one.
func (p *Provisioning) Strays(ctx context.Context) (int, error) {
	referenced := map[string]bool{}
	err := p.store.Scan(ctx, func(s simstore.Summary) error {
		rec, err := p.store.Get(ctx, s.ICCID)
		referenced[rec.CertificateARN] = err == nil
		return err
	})
	if err != nil {
		return 0, err
	}
	certs, err := p.iot.ListCertificates(ctx, &iot.ListCertificatesInput{PageSize: aws.Int32(250)})
	if err != nil {
		return 0, err
	}
	strays := 0
	for _, c := range certs.Certificates {
		arn := aws.ToString(c.CertificateArn)
		if referenced[arn] {
			continue
		}
		if c.Status == iottypes.CertificateStatusActive {
			return strays, fmt.Errorf("certificate %s is ACTIVE without a record", arn)
		}
		things, err := p.iot.ListPrincipalThings(ctx, &iot.ListPrincipalThingsInput{Principal: aws.String(arn)})
		if err != nil {
			return strays, err
		}
		if len(things.Things) > 0 {
			return strays, fmt.Errorf("certificate %s without a record is attached to %v", arn, things.Things)
		}
		strays++
	}
	return strays, nil
}
