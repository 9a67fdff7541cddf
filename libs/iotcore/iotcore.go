// Package iotcore performs the AWS IoT Core operations on things and
// certificates that provisioning, deactivation and teardown share, each one
// idempotent so a retried or redelivered step converges instead of failing.
package iotcore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// Certificate is a device certificate and, right after creation only, its key.
type Certificate struct {
	ID         string
	ARN        string
	PEM        string
	PrivateKey string
}

// API is the IoT API subset used here.
type API interface {
	CreateThing(ctx context.Context, in *iot.CreateThingInput, opts ...func(*iot.Options)) (*iot.CreateThingOutput, error)
	AddThingToThingGroup(ctx context.Context, in *iot.AddThingToThingGroupInput, opts ...func(*iot.Options)) (*iot.AddThingToThingGroupOutput, error)
	DescribeThing(ctx context.Context, in *iot.DescribeThingInput, opts ...func(*iot.Options)) (*iot.DescribeThingOutput, error)
	CreateKeysAndCertificate(ctx context.Context, in *iot.CreateKeysAndCertificateInput, opts ...func(*iot.Options)) (*iot.CreateKeysAndCertificateOutput, error)
	AttachPolicy(ctx context.Context, in *iot.AttachPolicyInput, opts ...func(*iot.Options)) (*iot.AttachPolicyOutput, error)
	DetachPolicy(ctx context.Context, in *iot.DetachPolicyInput, opts ...func(*iot.Options)) (*iot.DetachPolicyOutput, error)
	AttachThingPrincipal(ctx context.Context, in *iot.AttachThingPrincipalInput, opts ...func(*iot.Options)) (*iot.AttachThingPrincipalOutput, error)
	DetachThingPrincipal(ctx context.Context, in *iot.DetachThingPrincipalInput, opts ...func(*iot.Options)) (*iot.DetachThingPrincipalOutput, error)
	ListThingPrincipals(ctx context.Context, in *iot.ListThingPrincipalsInput, opts ...func(*iot.Options)) (*iot.ListThingPrincipalsOutput, error)
	RegisterCertificate(ctx context.Context, in *iot.RegisterCertificateInput, opts ...func(*iot.Options)) (*iot.RegisterCertificateOutput, error)
	DescribeCertificate(ctx context.Context, in *iot.DescribeCertificateInput, opts ...func(*iot.Options)) (*iot.DescribeCertificateOutput, error)
	ListAttachedPolicies(ctx context.Context, in *iot.ListAttachedPoliciesInput, opts ...func(*iot.Options)) (*iot.ListAttachedPoliciesOutput, error)
	UpdateCertificate(ctx context.Context, in *iot.UpdateCertificateInput, opts ...func(*iot.Options)) (*iot.UpdateCertificateOutput, error)
	DeleteCertificate(ctx context.Context, in *iot.DeleteCertificateInput, opts ...func(*iot.Options)) (*iot.DeleteCertificateOutput, error)
}

// Client wraps the IoT API.
type Client struct {
	api API
}

// New returns a client.
func New(api API) *Client { return &Client{api: api} }

// ManagedAttribute marks things this system created; only their
// certificates are ever retired as strays. A thing that existed before (for
// example from the reference system) keeps its other certificates.
const ManagedAttribute = "managed-by"

// ManagedValue is the value of ManagedAttribute.
const ManagedValue = "simbridge"

// Thing says what EnsureThing found.
type Thing struct {
	// Managed is true for things this system created (only their stray
	// certificates are ever retired).
	Managed bool
	// Created is true when this call created the thing, so it has no
	// certificates yet.
	Created bool
}

// Managed reports whether the thing exists and was created by this system;
// unlike EnsureThing it never creates anything.
func (c *Client) Managed(ctx context.Context, name string) (bool, error) {
	d, err := c.api.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(name)})
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("describe thing %s: %w", name, err)
	}
	return d.Attributes[ManagedAttribute] == ManagedValue, nil
}

// ThingSpec is the Thing a SIM gets.
type ThingSpec struct {
	Name string
	// Attributes are searchable attributes (the SIM's IMSI, MSISDN, label);
	// values are made to fit IoT's attribute alphabet.
	Attributes map[string]string
	// Group is the environment's thing group ("" for none).
	Group string
	// Type is the environment's thing type ("" for none). A Thing without a
	// type may carry only three attributes; with one, fifty.
	Type string
}

// EnsureThing creates the thing (marked managed-by=simbridge, with the
// attributes) or accepts an existing one of that name, and puts a managed
// thing into the group. It checks first instead of relying on CreateThing's
// behaviour for existing names, which differs between AWS and emulators.
func (c *Client) EnsureThing(ctx context.Context, spec ThingSpec) (Thing, error) {
	th, err := c.ensureThing(ctx, spec)
	if err != nil || !th.Managed || spec.Group == "" {
		return th, err
	}
	_, err = c.api.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingName: aws.String(spec.Name), ThingGroupName: aws.String(spec.Group)})
	if err != nil {
		return th, fmt.Errorf("add thing %s to group %s: %w", spec.Name, spec.Group, err)
	}
	return th, nil
}

func (c *Client) ensureThing(ctx context.Context, spec ThingSpec) (Thing, error) {
	name := spec.Name
	d, err := c.api.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(name)})
	if err == nil {
		return Thing{Managed: d.Attributes[ManagedAttribute] == ManagedValue}, nil
	}
	if !isNotFound(err) {
		return Thing{}, fmt.Errorf("describe thing %s: %w", name, err)
	}
	attrs := map[string]string{ManagedAttribute: ManagedValue}
	for k, v := range spec.Attributes {
		if v = AttributeValue(v); v != "" {
			attrs[k] = v
		}
	}
	in := &iot.CreateThingInput{ThingName: aws.String(name), AttributePayload: &types.AttributePayload{Attributes: attrs}}
	if spec.Type != "" {
		in.ThingTypeName = aws.String(spec.Type)
	}
	_, err = c.api.CreateThing(ctx, in)
	var exists *types.ResourceAlreadyExistsException
	if errors.As(err, &exists) { // created concurrently since DescribeThing
		d, err := c.api.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(name)})
		if err != nil {
			return Thing{}, fmt.Errorf("describe thing %s: %w", name, err)
		}
		return Thing{Managed: d.Attributes[ManagedAttribute] == ManagedValue}, nil
	}
	if err != nil {
		return Thing{}, fmt.Errorf("create thing %s: %w", name, err)
	}
	return Thing{Managed: true, Created: true}, nil
}

// AttributeValue fits a value into IoT's attribute alphabet
// ([a-zA-Z0-9_.,@/:#=[]-], at most 800 characters): other characters (a
// label's spaces) become "_".
func AttributeValue(v string) string {
	out := []rune(v)
	for i, r := range out {
		ok := r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_.,@/:#=[]-", r))
		if !ok {
			out[i] = '_'
		}
	}
	if len(out) > 800 {
		out = out[:800]
	}
	return string(out)
}

// CreateCertificate creates a key pair and certificate, inactive until
// Activate so that a certificate is never usable before it is attached.
func (c *Client) CreateCertificate(ctx context.Context) (Certificate, error) {
	out, err := c.api.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: false}, retryThrottlesOnly)
	if err != nil {
		return Certificate{}, fmt.Errorf("create keys and certificate: %w", err)
	}
	return Certificate{
		ID: aws.ToString(out.CertificateId), ARN: aws.ToString(out.CertificateArn),
		PEM: aws.ToString(out.CertificatePem), PrivateKey: aws.ToString(out.KeyPair.PrivateKey),
	}, nil
}

// AttachToThing attaches the certificate to the thing (a no-op when
// attached), which also makes it findable through the thing's principals.
func (c *Client) AttachToThing(ctx context.Context, thing, certARN string) error {
	if _, err := c.api.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String(thing), Principal: aws.String(certARN)}); err != nil {
		return fmt.Errorf("attach certificate to thing %s: %w", thing, err)
	}
	return nil
}

// Attach attaches the certificate to the thing and the policy to the
// certificate; both are no-ops when already attached.
func (c *Client) Attach(ctx context.Context, thing, policy, certARN string) error {
	if err := c.AttachToThing(ctx, thing, certARN); err != nil {
		return err
	}
	return c.AttachPolicy(ctx, policy, certARN)
}

// AttachPolicy attaches the policy to the certificate (a no-op when attached).
func (c *Client) AttachPolicy(ctx context.Context, policy, certARN string) error {
	if _, err := c.api.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(policy), Target: aws.String(certARN)}); err != nil {
		return fmt.Errorf("attach policy %s: %w", policy, err)
	}
	return nil
}

// Certificate statuses simbridge sets.
const (
	StatusActive   = types.CertificateStatusActive
	StatusInactive = types.CertificateStatusInactive
	// StatusRevoked is final: IoT Core never lets a REVOKED certificate be
	// activated again.
	StatusRevoked = types.CertificateStatusRevoked
)

// Errors callers branch on.
var (
	// ErrCertificateNotFound means IoT Core does not know the certificate
	// (for an own-CA certificate: not registered yet).
	ErrCertificateNotFound = errors.New("certificate not found in IoT Core")
	// ErrCertificateRevoked means IoT Core refused to change a certificate's
	// status because it is REVOKED.
	ErrCertificateRevoked = errors.New("certificate is revoked")
)

// SetStatus sets the certificate's status; ErrCertificateNotFound and
// ErrCertificateRevoked (activation refused) are wrapped into the error.
func (c *Client) SetStatus(ctx context.Context, certID string, status types.CertificateStatus) error {
	_, err := c.api.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(certID), NewStatus: status})
	switch {
	case err == nil:
		return nil
	case isNotFound(err):
		return fmt.Errorf("set certificate %s %s: %w: %w", certID, status, ErrCertificateNotFound, err)
	case isCertificateState(err):
		return fmt.Errorf("set certificate %s %s: %w: %w", certID, status, ErrCertificateRevoked, err)
	default:
		return fmt.Errorf("set certificate %s %s: %w", certID, status, err)
	}
}

// SetActive sets the certificate ACTIVE or INACTIVE.
func (c *Client) SetActive(ctx context.Context, certID string, active bool) error {
	if active {
		return c.SetStatus(ctx, certID, StatusActive)
	}
	return c.SetStatus(ctx, certID, StatusInactive)
}

// Register registers a certificate signed by a registered CA, ACTIVE (it
// grants nothing until the policy is attached, and its key is only served
// once the record is active). Registering it again is success: the id is
// the SHA-256 of the DER, so the existing certificate is this one. existed
// says so, since its status may then be anything.
func (c *Client) Register(ctx context.Context, certPEM, caPEM string) (arn string, existed bool, err error) {
	out, err := c.api.RegisterCertificate(ctx, &iot.RegisterCertificateInput{
		CertificatePem: aws.String(certPEM), CaCertificatePem: aws.String(caPEM), Status: types.CertificateStatusActive,
	})
	if err == nil {
		return aws.ToString(out.CertificateArn), false, nil
	}
	var exists *types.ResourceAlreadyExistsException
	if !errors.As(err, &exists) {
		return "", false, fmt.Errorf("register certificate: %w", err)
	}
	if arn := aws.ToString(exists.ResourceArn); arn != "" {
		return arn, true, nil
	}
	arn, err = c.ARN(ctx, certIDOf(certPEM))
	return arn, true, err
}

// ARN looks up a certificate's ARN by id.
func (c *Client) ARN(ctx context.Context, certID string) (string, error) {
	d, err := c.api.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(certID)})
	if isNotFound(err) {
		return "", fmt.Errorf("describe certificate %s: %w: %w", certID, ErrCertificateNotFound, err)
	}
	if err != nil {
		return "", fmt.Errorf("describe certificate %s: %w", certID, err)
	}
	return aws.ToString(d.CertificateDescription.CertificateArn), nil
}

// DetachFromThing detaches a certificate from a thing (a no-op when it is
// not attached or either is gone).
func (c *Client) DetachFromThing(ctx context.Context, thing, certARN string) error {
	_, err := c.api.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String(thing), Principal: aws.String(certARN)})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("detach %s from %s: %w", certARN, thing, err)
	}
	return nil
}

// ThingPrincipals lists the principals (certificate ARNs) attached to a
// thing; a missing thing has none.
func (c *Client) ThingPrincipals(ctx context.Context, thing string) ([]string, error) {
	var out []string
	p := iot.NewListThingPrincipalsPaginator(c.api, &iot.ListThingPrincipalsInput{ThingName: aws.String(thing)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if isNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list principals of %s: %w", thing, err)
		}
		out = append(out, page.Principals...)
	}
	return out, nil
}

// Retire takes a certificate out of service for good: INACTIVE first (so it
// grants nothing from the first step on), detached from its policies and
// from the thing, then deleted. The thing is detached last so that, if the
// caller dies half-way, the certificate is still found through the thing's
// principals and retired by the next attempt. Each step tolerates having
// been done already.
func (c *Client) Retire(ctx context.Context, thing, certARN string) error {
	id := CertificateID(certARN)
	if err := c.SetStatus(ctx, id, StatusInactive); err != nil {
		if errors.Is(err, ErrCertificateNotFound) {
			return nil
		}
		if !errors.Is(err, ErrCertificateRevoked) {
			return err
		}
	}
	if err := c.detachPolicies(ctx, certARN); err != nil {
		return err
	}
	if thing != "" {
		_, err := c.api.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String(thing), Principal: aws.String(certARN)})
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("detach %s from %s: %w", certARN, thing, err)
		}
	}
	_, err := c.api.DeleteCertificate(ctx, &iot.DeleteCertificateInput{CertificateId: aws.String(id), ForceDelete: true})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("delete certificate %s: %w", id, err)
	}
	return nil
}

func (c *Client) detachPolicies(ctx context.Context, certARN string) error {
	p := iot.NewListAttachedPoliciesPaginator(c.api, &iot.ListAttachedPoliciesInput{Target: aws.String(certARN)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list policies of %s: %w", certARN, err)
		}
		for _, pol := range page.Policies {
			_, err := c.api.DetachPolicy(ctx, &iot.DetachPolicyInput{PolicyName: pol.PolicyName, Target: aws.String(certARN)})
			if err != nil && !isNotFound(err) {
				return fmt.Errorf("detach policy %s: %w", aws.ToString(pol.PolicyName), err)
			}
		}
	}
	return nil
}

// CertificateID extracts the id from a certificate ARN (…:cert/<id>).
func CertificateID(certARN string) string {
	for i := len(certARN) - 1; i >= 0; i-- {
		if certARN[i] == '/' {
			return certARN[i+1:]
		}
	}
	return certARN
}

func isNotFound(err error) bool {
	var nf *types.ResourceNotFoundException
	return errors.As(err, &nf)
}

func isCertificateState(err error) bool {
	var cs *types.CertificateStateException
	return errors.As(err, &cs)
}

// certIDOf is the IoT id of a PEM certificate ("" if it does not parse).
func certIDOf(certPEM string) string {
	block, _ := pem.Decode([]byte(certPEM))
	if block == nil {
		return ""
	}
	sum := sha256.Sum256(block.Bytes)
	return hex.EncodeToString(sum[:])
}
