package testkit

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/simbridge/simbridge/libs/iotca"
	"github.com/simbridge/simbridge/libs/keyseal"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
)

// Provisioning checks the provisioning invariant in an account: every
// active record names a certificate that is ACTIVE, attached to its Thing
// (the Thing's only principal once the record is settled) with the policy,
// whose sealed key matches it and, for the own CA, that chains to the CA; no
// certificate a record does not name is ACTIVE or attached to a Thing. A
// SIM in key mode device holds no sealed key at all, and has exactly one
// ACTIVE certificate once its device enrolled (none before): every
// certificate of its enrolment history but the current one is REVOKED.
type Provisioning struct {
	cfg    aws.Config
	table  string
	store  *simstore.Dynamo
	iot    *iot.Client
	opener *keyseal.Opener
	policy string
	// CA, when set, is the PEM every own-CA certificate must chain to.
	CA string
}

// NewProvisioning checks resources of table and policy.
func NewProvisioning(cfg aws.Config, table, policy string) *Provisioning {
	return &Provisioning{cfg: cfg, table: table, store: simstore.NewDynamo(dynamodb.NewFromConfig(cfg), table),
		iot: iot.NewFromConfig(cfg), opener: keyseal.NewOpener(kms.NewFromConfig(cfg), ""), policy: policy}
}

// Record reads a SIM's record.
func (p *Provisioning) Record(ctx context.Context, iccid string) (simrec.Record, error) {
	return p.store.Get(ctx, iccid)
}

// Active returns nil when the SIM is onboardable, settled and everything
// about it is consistent, else what is wrong.
func (p *Provisioning) Active(ctx context.Context, iccid string) error {
	rec, err := p.store.Get(ctx, iccid)
	if err != nil {
		return err
	}
	if !rec.Active || !rec.HasCredentials() || rec.CurrentState() != simrec.StateActive {
		return fmt.Errorf("%s: record state=%s active=%v credentials=%v", iccid, rec.CurrentState(), rec.Active, rec.HasCredentials())
	}
	if rec.Next != nil || len(rec.Retiring) > 0 || rec.ClaimedBy != "" {
		return fmt.Errorf("%s: not settled (next=%v retiring=%v claimed by %q)", iccid, rec.Next != nil, rec.Retiring, rec.ClaimedBy)
	}
	if err := p.serving(ctx, rec); err != nil {
		return err
	}
	principals, err := p.iot.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String(rec.ThingName)})
	if err != nil {
		return err
	}
	if len(principals.Principals) != 1 || principals.Principals[0] != rec.CertificateARN() {
		return fmt.Errorf("%s: thing principals %v, want only %s", iccid, principals.Principals, rec.CertificateARN())
	}
	if rec.KeyMode == simrec.KeyModeDevice || rec.Cert.DeviceKey {
		return p.deviceHeld(ctx, rec)
	}
	return p.keyMatches(ctx, rec)
}

// AwaitingEnrolment returns nil when the SIM is in key mode device, active
// and settled, and has no certificate and no key yet: its Thing exists
// without any principal and no certificate of its history is ACTIVE.
func (p *Provisioning) AwaitingEnrolment(ctx context.Context, iccid string) error {
	rec, err := p.store.Get(ctx, iccid)
	if err != nil {
		return err
	}
	switch {
	case !rec.Active || rec.CurrentState() != simrec.StateActive:
		return fmt.Errorf("%s: record state=%s active=%v", iccid, rec.CurrentState(), rec.Active)
	case !rec.Settled():
		return fmt.Errorf("%s: not settled (next=%v retiring=%v claimed by %q)", iccid, rec.Next != nil, rec.Retiring, rec.ClaimedBy)
	case rec.KeyMode != simrec.KeyModeDevice || rec.Cert != nil || rec.HoldsKey():
		return fmt.Errorf("%s: key mode %q, certificate %q, holds a key %v: want device, none, no", iccid, rec.KeyMode, rec.CertificateID(), rec.HoldsKey())
	}
	principals, err := p.iot.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String(rec.ThingName)})
	if err != nil {
		return fmt.Errorf("%s: thing %s: %w", iccid, rec.ThingName, err)
	}
	if len(principals.Principals) != 0 {
		return fmt.Errorf("%s: thing principals %v while the SIM waits for its device", iccid, principals.Principals)
	}
	return p.historyRevoked(ctx, rec)
}

// deviceHeld checks a SIM whose device holds its key: no sealed key, and
// every certificate its enrolments got but the current one REVOKED.
func (p *Provisioning) deviceHeld(ctx context.Context, rec simrec.Record) error {
	if rec.HoldsKey() {
		return fmt.Errorf("%s: key mode device but the record holds a sealed key", rec.ICCID)
	}
	return p.historyRevoked(ctx, rec)
}

// historyRevoked checks that no certificate of the SIM's enrolment history
// but its current one is ACTIVE (IoT Core may have forgotten one: fine).
func (p *Provisioning) historyRevoked(ctx context.Context, rec simrec.Record) error {
	for _, e := range rec.Enrolments {
		if e.CertificateID == rec.CertificateID() {
			continue
		}
		st, err := p.Status(ctx, e.CertificateID)
		var nf *iottypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			continue
		}
		if err != nil {
			return err
		}
		if st != iottypes.CertificateStatusRevoked {
			return fmt.Errorf("%s: enrolled certificate %s of %s is %s, want REVOKED", rec.ICCID, e.CertificateID, e.At.Format("15:04:05"), st)
		}
	}
	return nil
}

// serving checks what an active record promises: its certificate ACTIVE,
// attached to its Thing and carrying the policy (and chaining to the CA).
func (p *Provisioning) serving(ctx context.Context, rec simrec.Record) error {
	if err := p.certificate(ctx, rec.ICCID, rec.CertificateID(), iottypes.CertificateStatusActive); err != nil {
		return err
	}
	things, err := p.iot.ListPrincipalThings(ctx, &iot.ListPrincipalThingsInput{Principal: aws.String(rec.CertificateARN())})
	if err != nil {
		return fmt.Errorf("%s: things of %s: %w", rec.ICCID, rec.CertificateARN(), err)
	}
	if !slices.Contains(things.Things, rec.ThingName) {
		return fmt.Errorf("%s: certificate %s not attached to thing %s (attached to %v)", rec.ICCID, rec.CertificateID(), rec.ThingName, things.Things)
	}
	pols, err := p.iot.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: aws.String(rec.CertificateARN())})
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(pols.Policies, func(x iottypes.Policy) bool { return aws.ToString(x.PolicyName) == p.policy }) {
		return fmt.Errorf("%s: policy %s not attached to %s", rec.ICCID, p.policy, rec.CertificateID())
	}
	if p.CA != "" && rec.Cert.Authority == simrec.AuthorityOwn {
		return ChainsTo(rec.Cert.PEM, p.CA)
	}
	return nil
}

// Inactive returns nil when the SIM's record is inactive and no
// certificate it names is ACTIVE (the current one INACTIVE, or REVOKED for a
// revoked SIM; one still being issued either unknown to IoT Core or not
// ACTIVE).
func (p *Provisioning) Inactive(ctx context.Context, iccid string) error {
	rec, err := p.store.Get(ctx, iccid)
	if err != nil {
		return err
	}
	if rec.Active {
		return fmt.Errorf("%s: record still active", iccid)
	}
	if rec.Cert != nil {
		want := iottypes.CertificateStatusInactive
		if rec.CurrentState() == simrec.StateRevoked {
			want = iottypes.CertificateStatusRevoked
		}
		if err := p.certificate(ctx, iccid, rec.Cert.ID, want); err != nil {
			return err
		}
	}
	if rec.Next != nil {
		st, err := p.Status(ctx, rec.Next.ID)
		var nf *iottypes.ResourceNotFoundException
		if err != nil && !errors.As(err, &nf) {
			return err
		}
		if st == iottypes.CertificateStatusActive {
			return fmt.Errorf("%s: the certificate being issued (%s) is ACTIVE", iccid, rec.Next.ID)
		}
	}
	return nil
}

// Status returns a certificate's status in IoT Core.
func (p *Provisioning) Status(ctx context.Context, certID string) (iottypes.CertificateStatus, error) {
	d, err := p.iot.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(certID)})
	if err != nil {
		return "", err
	}
	return d.CertificateDescription.Status, nil
}

func (p *Provisioning) certificate(ctx context.Context, iccid, certID string, want iottypes.CertificateStatus) error {
	got, err := p.Status(ctx, certID)
	if err != nil {
		return fmt.Errorf("%s: %w", iccid, err)
	}
	if got != want {
		return fmt.Errorf("%s: certificate %s is %s, want %s", iccid, certID, got, want)
	}
	return nil
}

func (p *Provisioning) keyMatches(ctx context.Context, rec simrec.Record) error {
	key, err := p.opener.Open(ctx, rec.ICCID, rec.Cert.KeyCiphertext)
	if err != nil {
		return err
	}
	return KeyMatches(rec.Cert.PEM, string(key))
}

// KeyMatches checks that a PEM private key (PKCS#1, SEC 1 or PKCS#8) is the
// key of a PEM certificate (iotca.KeyMatches).
func KeyMatches(certPEM, keyPEM string) error { return iotca.KeyMatches(certPEM, keyPEM) }

// ChainsTo verifies that a PEM certificate is signed by the CA certificate
// caPEM and is valid for TLS client authentication.
func ChainsTo(certPEM, caPEM string) error {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(caPEM)) {
		return errors.New("CA certificate is not PEM")
	}
	cb, _ := pem.Decode([]byte(certPEM))
	if cb == nil {
		return errors.New("certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return err
	}
	_, err = cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	return err
}

// Report is what Check found over a whole account.
type Report struct {
	// Violations break the invariant.
	Violations []error
	// Orphans are certificates no record names, INACTIVE and attached to
	// nothing: harmless leftovers of a lost CreateKeysAndCertificate answer.
	Orphans []string
	// Retired counts REVOKED certificates no record names any more and
	// attached to nothing: replaced ones (reissue, enrolment), history as
	// the audit sees it.
	Retired int
	// Records counts the records checked, Active those active.
	Records, Active int
}

// Check scans every record and every certificate of the account. Foreign
// certificates (created outside simbridge) are listed as orphans when
// INACTIVE and unattached; callers that create some say which to ignore.
func (p *Provisioning) Check(ctx context.Context, ignore map[string]bool) (Report, error) {
	var rep Report
	named := map[string]bool{}
	err := p.store.Scan(ctx, func(s simrec.Summary) error {
		rec, err := p.store.Get(ctx, s.ICCID)
		if err != nil {
			return err
		}
		rep.Records++
		for _, c := range []*simrec.Credentials{rec.Cert, rec.Next} {
			if c != nil {
				named[c.ID] = true
			}
		}
		for _, arn := range rec.Retiring {
			named[certID(arn)] = true
		}
		for _, e := range rec.Enrolments {
			named[e.CertificateID] = true // REVOKED once replaced (deviceHeld)
		}
		if rec.KeyMode == simrec.KeyModeDevice {
			if err := p.deviceHeld(ctx, rec); err != nil {
				rep.Violations = append(rep.Violations, err)
			}
		}
		if rec.Active {
			rep.Active++
			if rec.Cert == nil && rec.KeyMode == simrec.KeyModeDevice {
				return nil // waits for its device to enrol
			}
			if err := p.serving(ctx, rec); err != nil {
				rep.Violations = append(rep.Violations, err)
			}
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	certs, err := p.iot.ListCertificates(ctx, &iot.ListCertificatesInput{PageSize: aws.Int32(250)})
	if err != nil {
		return rep, err
	}
	for _, c := range certs.Certificates {
		id, arn := aws.ToString(c.CertificateId), aws.ToString(c.CertificateArn)
		if named[id] || ignore[id] {
			continue
		}
		if c.Status == iottypes.CertificateStatusActive {
			rep.Violations = append(rep.Violations, fmt.Errorf("certificate %s is ACTIVE and no record names it", id))
			continue
		}
		things, err := p.iot.ListPrincipalThings(ctx, &iot.ListPrincipalThingsInput{Principal: aws.String(arn)})
		if err != nil {
			return rep, err
		}
		if len(things.Things) > 0 {
			rep.Violations = append(rep.Violations, fmt.Errorf("certificate %s no record names is attached to %v", id, things.Things))
			continue
		}
		if c.Status == iottypes.CertificateStatusRevoked {
			rep.Retired++
			continue
		}
		rep.Orphans = append(rep.Orphans, id)
	}
	return rep, nil
}

func certID(arn string) string {
	for i := len(arn) - 1; i >= 0; i-- {
		if arn[i] == '/' {
			return arn[i+1:]
		}
	}
	return arn
}

// StoredKeys reads the SIM's item as DynamoDB stores it and returns the
// path of every attribute that holds private key material: a sealed key
// (key_ciphertext) anywhere in the item, or any value with a PEM private
// key in it. A SIM whose device holds its key must have none.
func (p *Provisioning) StoredKeys(ctx context.Context, iccid string) ([]string, error) {
	out, err := dynamodb.NewFromConfig(p.cfg).GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(p.table),
		Key: map[string]ddbtypes.AttributeValue{"iccid": &ddbtypes.AttributeValueMemberS{Value: iccid}}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, err
	}
	if out.Item == nil {
		return nil, fmt.Errorf("%s: no item", iccid)
	}
	var found []string
	var walk func(path string, v ddbtypes.AttributeValue)
	walk = func(path string, v ddbtypes.AttributeValue) {
		switch v := v.(type) {
		case *ddbtypes.AttributeValueMemberM:
			for k, e := range v.Value {
				if k == "key_ciphertext" {
					found = append(found, path+"."+k)
				}
				walk(path+"."+k, e)
			}
		case *ddbtypes.AttributeValueMemberL:
			for i, e := range v.Value {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		case *ddbtypes.AttributeValueMemberS:
			if strings.Contains(v.Value, "PRIVATE KEY") {
				found = append(found, path)
			}
		case *ddbtypes.AttributeValueMemberB:
			if bytes.Contains(v.Value, []byte("PRIVATE KEY")) {
				found = append(found, path)
			}
		}
	}
	walk("", &ddbtypes.AttributeValueMemberM{Value: out.Item})
	return found, nil
}
