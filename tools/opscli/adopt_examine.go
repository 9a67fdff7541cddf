package opscli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/simbridge/simbridge/libs/iotca"
	"github.com/simbridge/simbridge/libs/iotcore"
	"github.com/simbridge/simbridge/libs/simrec"
)

// adoptFacts is what examine learnt about one SIM.
type adoptFacts struct {
	certID, certARN string
	certStatus      iottypes.CertificateStatus
	issuedAt        time.Time
	active          bool // the item's a
	// record is simbridge's record of the SIM, if any: already says it
	// holds this very certificate (adopted before), superseded that it
	// holds another while the reference's is REVOKED (reissued since).
	record              simrec.Record
	already, superseded bool
	// thingMarked: managed-by=simbridge already; thingType the Thing's type.
	thingMarked bool
	thingType   string
}

// state is the record's state as adoption writes it: served at once only
// when the reference served it (a) and IoT Core lets the certificate
// connect; otherwise pending, which no device is answered for, until
// sim-poller applies 1NCE's answer.
func (f adoptFacts) state() simrec.State {
	if f.active && f.certStatus == iottypes.CertificateStatusActive {
		return simrec.StateActive
	}
	return simrec.StatePending
}

// examine reads what decides a SIM's adoption: simbridge's records of the
// SIM and of its IP, then the certificate and the Thing in IoT Core. What
// disagrees becomes a problem of c; an error means a call failed.
func (a *adopter) examine(ctx context.Context, c *candidate) (adoptFacts, error) {
	f := adoptFacts{active: c.Item.active()}
	cert, err := iotca.ParseCertificate(c.Item.Cert) // planItems checked it parses
	if err != nil {
		return f, err
	}
	f.certID, f.issuedAt = iotca.CertificateID(cert.Raw), cert.NotBefore.UTC()
	if err := a.ourRecords(ctx, c, &f); err != nil || f.already {
		return f, err
	}
	if err := a.certificate(ctx, c, &f); err != nil || f.superseded || c.blocked() {
		return f, err
	}
	return f, a.thing(ctx, c, &f)
}

// ourRecords checks simbridge's side: a record of this SIM (adopted before,
// or simbridge's own), and records of other SIMs at its IP.
func (a *adopter) ourRecords(ctx context.Context, c *candidate, f *adoptFacts) error {
	rec, err := a.s.store.Get(ctx, c.ICCID)
	switch {
	case err == nil:
		// Adopted before, or simbridge's own (certificate decides which).
		f.record = rec
		if rec.Cert != nil && rec.Cert.ID == f.certID && rec.Cert.Adopted() {
			f.already, f.certARN = true, rec.Cert.ARN
		}
		return nil
	case !errors.Is(err, simrec.ErrNotFound):
		return err
	}
	holders, err := a.s.store.FindByIP(ctx, c.IP)
	if err != nil {
		return err
	}
	for _, h := range holders {
		if h.ICCID != c.ICCID {
			c.problem(DisagreeIPTaken, "simbridge's record of SIM %s (%s) holds %s: two records at one IP answer neither device", h.ICCID, h.CurrentState(), c.IP)
		}
	}
	return nil
}

// certificate checks the certificate in IoT Core: known, usable, attached
// to the Thing named by the ICCID. A SIM simbridge has a record of is
// adopted by nobody: when the reference's certificate is REVOKED,
// simbridge has moved it on (superseded); otherwise it is a disagreement.
func (a *adopter) certificate(ctx context.Context, c *candidate, f *adoptFacts) error {
	d, err := a.iot.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(f.certID)})
	var nf *iottypes.ResourceNotFoundException
	known := err == nil
	switch {
	case errors.As(err, &nf):
	case err != nil:
		return fmt.Errorf("describe certificate %s: %w", short(f.certID), err)
	default:
		f.certARN, f.certStatus = aws.ToString(d.CertificateDescription.CertificateArn), d.CertificateDescription.Status
	}
	if f.record.ICCID != "" {
		if f.certStatus == iottypes.CertificateStatusRevoked {
			f.superseded = true
			return nil
		}
		c.problem(DisagreeHasRecord, "simbridge already has a record of this SIM (%s, certificate %s, not the reference's %s): adopting would change what the device gets",
			f.record.CurrentState(), short(f.record.CertificateID()), short(f.certID))
		return nil
	}
	switch {
	case !known:
		c.problem(DisagreeCertMissing, "IoT Core does not know certificate %s (deleted? another region?)", short(f.certID))
	case f.certStatus != iottypes.CertificateStatusActive && f.certStatus != iottypes.CertificateStatusInactive:
		c.problem(DisagreeCertState, "certificate %s is %s: no device can connect with it", short(f.certID), f.certStatus)
	}
	return nil
}

// thing checks that the certificate is attached to the Thing named by the
// ICCID, and reads how the Thing is marked.
func (a *adopter) thing(ctx context.Context, c *candidate, f *adoptFacts) error {
	var principals []string
	p := iot.NewListThingPrincipalsPaginator(a.iot, &iot.ListThingPrincipalsInput{ThingName: aws.String(c.ICCID)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		var nf *iottypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			c.problem(DisagreeNotOnThing, "no Thing is named %s", c.ICCID)
			return nil
		}
		if err != nil {
			return fmt.Errorf("list principals of %s: %w", c.ICCID, err)
		}
		principals = append(principals, page.Principals...)
	}
	if !slices.Contains(principals, f.certARN) {
		c.problem(DisagreeNotOnThing, "certificate %s is not attached to Thing %s", short(f.certID), c.ICCID)
		return nil
	}
	if len(principals) > 1 {
		var others []string
		for _, arn := range principals {
			if arn != f.certARN {
				others = append(others, short(iotcore.CertificateID(arn)))
			}
		}
		c.note(DisagreeOtherCerts, "Thing %s also holds %s (left as they are: simbridge touches no certificate its record does not name)",
			c.ICCID, strings.Join(others, ", "))
	}
	d, err := a.iot.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(c.ICCID)})
	if err != nil {
		return fmt.Errorf("describe thing %s: %w", c.ICCID, err)
	}
	f.thingMarked = d.Attributes[iotcore.ManagedAttribute] == iotcore.ManagedValue
	f.thingType = aws.ToString(d.ThingTypeName)
	if f.thingType != "" && f.thingType != a.s.names.ThingType() {
		c.note(DisagreeThingType, "Thing %s has thing type %s, left as it is", c.ICCID, f.thingType)
	}
	return nil
}

// adopt makes the SIM simbridge's: Thing marked and grouped, the device
// policy on the certificate, the key sealed, then the record, written only
// if none exists. Every step before the record is idempotent, so a run
// interrupted anywhere is finished by the next.
func (a *adopter) adopt(ctx context.Context, c *candidate, f adoptFacts) error {
	names := a.s.names
	if !f.thingMarked || f.thingType == "" {
		in := &iot.UpdateThingInput{ThingName: aws.String(c.ICCID), AttributePayload: &iottypes.AttributePayload{
			Attributes: map[string]string{iotcore.ManagedAttribute: iotcore.ManagedValue}, Merge: true}}
		if f.thingType == "" {
			in.ThingTypeName = aws.String(names.ThingType())
		}
		if _, err := a.iot.UpdateThing(ctx, in); err != nil {
			return fmt.Errorf("mark thing %s: %w", c.ICCID, err)
		}
	}
	if _, err := a.iot.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingName: aws.String(c.ICCID), ThingGroupName: aws.String(names.ThingGroup())}); err != nil {
		return fmt.Errorf("add thing %s to group %s: %w", c.ICCID, names.ThingGroup(), err)
	}
	if _, err := a.iot.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(names.Policy()), Target: aws.String(f.certARN)}); err != nil {
		return fmt.Errorf("attach policy %s: %w", names.Policy(), err)
	}
	if a.f.detachRefPolicy {
		if err := a.detachReferencePolicy(ctx, f.certARN); err != nil {
			return err
		}
	}
	sealed, err := a.sealer.Seal(ctx, c.ICCID, []byte(c.Item.Key.Reveal()))
	if err != nil {
		return err
	}
	id := adoptCommand(f.certID)
	rec := simrec.Record{ICCID: c.ICCID, IP: c.IP, ThingName: c.ICCID, LastCommand: id,
		Cert: &simrec.Credentials{ID: f.certID, ARN: f.certARN, PEM: c.Item.Cert, KeyCiphertext: sealed, Authority: simrec.AuthorityAWS,
			IssuedAt: f.issuedAt, Command: id, AdoptedFrom: a.f.table, KeySHA256: keyDigest(c.Item.Key)}}
	rec.SetState(f.state())
	_, err = a.s.store.Create(ctx, rec)
	if !errors.Is(err, simrec.ErrConflict) {
		return err
	}
	// Created meanwhile: by another adopt run (fine) or by simbridge itself.
	got, gerr := a.s.store.Get(ctx, c.ICCID)
	if gerr != nil {
		return gerr
	}
	if got.Cert == nil || got.Cert.ID != f.certID || !got.Cert.Adopted() {
		c.problem(DisagreeHasRecord, "simbridge's record of this SIM appeared meanwhile (certificate %s): not adopted", short(got.CertificateID()))
	}
	return nil
}

// detachReferencePolicy detaches the reference's policy from an adopted
// certificate (a no-op when it is not attached).
func (a *adopter) detachReferencePolicy(ctx context.Context, certARN string) error {
	_, err := a.iot.DetachPolicy(ctx, &iot.DetachPolicyInput{PolicyName: aws.String(a.f.refPolicy), Target: aws.String(certARN)})
	var nf *iottypes.ResourceNotFoundException
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("detach policy %s: %w", a.f.refPolicy, err)
	}
	return nil
}
