// Package iotfake is an in-memory IoT Core with the semantics of
// libs/iotcore.Client that the use cases rely on, so their branches are
// unit-tested without the emulator. The contract suite in
// libs/iotcore/iotcoretest runs against both, which keeps this fake honest.
package iotfake

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/simbridge/simbridge/libs/iotcore"
)

// arnPrefix is the fake account's certificate ARN prefix.
const arnPrefix = "arn:aws:iot:us-east-1:123456789012:cert/"

type certificate struct {
	arn, pem string
	status   types.CertificateStatus
	policies []string
}

type thing struct {
	attrs      map[string]string
	groups     []string
	principals []string
}

// IoT is the fake. The zero value is not usable; call New.
type IoT struct {
	mu     sync.Mutex
	certs  map[string]*certificate // by id
	things map[string]*thing
	fail   map[string][]error // operation -> errors returned by its next calls, in order
	calls  map[string]int
}

// New returns an empty account.
func New() *IoT {
	return &IoT{certs: map[string]*certificate{}, things: map[string]*thing{}, fail: map[string][]error{}, calls: map[string]int{}}
}

// FailNext makes the next calls of operation (an IoT operation name, e.g.
// "RegisterCertificate") return errs, one per call, after which it works.
// An error wrapped in AfterEffect is returned after the call took effect.
func (f *IoT) FailNext(operation string, errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[operation] = append(f.fail[operation], errs...)
}

// AfterEffect marks a FailNext error as returned after the call took
// effect (an answer lost on the way back).
type AfterEffect struct{ Err error }

func (a AfterEffect) Error() string { return a.Err.Error() + " (after the call took effect)" }
func (a AfterEffect) Unwrap() error { return a.Err }

// Calls is how often operation was called.
func (f *IoT) Calls(operation string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[operation]
}

// call counts the operation and pops its next injected error: before says
// the call must not take effect.
func (f *IoT) call(op string) (before, after error) {
	f.calls[op]++
	errs := f.fail[op]
	if len(errs) == 0 {
		return nil, nil
	}
	f.fail[op] = errs[1:]
	var ae AfterEffect
	if errors.As(errs[0], &ae) {
		return nil, errs[0]
	}
	return errs[0], nil
}

// read is call for an operation that changes nothing: an injected error is
// returned whether it came "before" or "after".
func (f *IoT) read(op string) error {
	before, after := f.call(op)
	if before != nil {
		return before
	}
	return after
}

// Status is a certificate's status ("" when IoT Core does not know it).
func (f *IoT) Status(id string) types.CertificateStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.certs[id]; ok {
		return c.status
	}
	return ""
}

// Policies are the policies attached to a certificate.
func (f *IoT) Policies(id string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.certs[id]; ok {
		return slices.Clone(c.policies)
	}
	return nil
}

// Thing describes a thing: its attributes and groups (nil if missing).
func (f *IoT) Thing(name string) (attrs map[string]string, groups []string, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.things[name]
	if !ok {
		return nil, nil, false
	}
	return t.attrs, slices.Clone(t.groups), true
}

// Certificates lists every certificate id.
func (f *IoT) Certificates() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for id := range f.certs {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// EnsureThing creates the thing (managed, with the attributes) unless it
// exists, and puts a managed thing into the group.
func (f *IoT) EnsureThing(_ context.Context, spec iotcore.ThingSpec) (iotcore.Thing, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.read("DescribeThing"); err != nil {
		return iotcore.Thing{}, err
	}
	th, ok := f.things[spec.Name]
	out := iotcore.Thing{}
	if !ok {
		before, after := f.call("CreateThing")
		if before != nil {
			return iotcore.Thing{}, before
		}
		attrs := map[string]string{iotcore.ManagedAttribute: iotcore.ManagedValue}
		for k, v := range spec.Attributes {
			if v = iotcore.AttributeValue(v); v != "" {
				attrs[k] = v
			}
		}
		if spec.Type == "" && len(attrs) > 3 {
			return iotcore.Thing{}, errors.New("create thing: a thing without a thing type can have at most 3 attributes")
		}
		th = &thing{attrs: attrs}
		f.things[spec.Name] = th
		if after != nil {
			return iotcore.Thing{}, after
		}
		out.Created = true
	}
	out.Managed = th.attrs[iotcore.ManagedAttribute] == iotcore.ManagedValue
	if out.Managed && spec.Group != "" {
		before, after := f.call("AddThingToThingGroup")
		if before != nil {
			return out, before
		}
		if !slices.Contains(th.groups, spec.Group) {
			th.groups = append(th.groups, spec.Group)
		}
		if after != nil {
			return out, after
		}
	}
	return out, nil
}

// ForeignThing creates a thing simbridge did not make (no managed-by).
func (f *IoT) ForeignThing(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.things[name] = &thing{attrs: map[string]string{}}
}

// Delete removes a certificate and detaches it from every thing, as an
// operator's force-delete does behind simbridge's back.
func (f *IoT) Delete(certID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.certs[certID]
	if !ok {
		return
	}
	for _, th := range f.things {
		th.principals = slices.DeleteFunc(th.principals, func(p string) bool { return p == c.arn })
	}
	delete(f.certs, certID)
}

// CreateCertificate creates an INACTIVE certificate with a fresh key.
func (f *IoT) CreateCertificate(context.Context) (iotcore.Certificate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	before, after := f.call("CreateKeysAndCertificate")
	if before != nil {
		return iotcore.Certificate{}, before
	}
	der := make([]byte, 32)
	_, _ = rand.Read(der)
	certPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	id := idOf(der)
	f.certs[id] = &certificate{arn: arnPrefix + id, pem: certPEM, status: types.CertificateStatusInactive}
	if after != nil {
		return iotcore.Certificate{}, after
	}
	return iotcore.Certificate{ID: id, ARN: arnPrefix + id, PEM: certPEM, PrivateKey: "KEY-" + id}, nil
}

// Register registers a certificate ACTIVE; again is success with existed.
func (f *IoT) Register(_ context.Context, certPEM, _ string) (string, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	block, _ := pem.Decode([]byte(certPEM))
	if block == nil {
		return "", false, errors.New("register certificate: not PEM")
	}
	before, after := f.call("RegisterCertificate")
	if before != nil {
		return "", false, before
	}
	id := idOf(block.Bytes)
	if c, ok := f.certs[id]; ok {
		return c.arn, true, after
	}
	f.certs[id] = &certificate{arn: arnPrefix + id, pem: certPEM, status: types.CertificateStatusActive}
	return arnPrefix + id, false, after
}

// AttachToThing attaches a certificate to a thing (idempotent).
func (f *IoT) AttachToThing(_ context.Context, thingName, certARN string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	before, after := f.call("AttachThingPrincipal")
	if before != nil {
		return before
	}
	th, ok := f.things[thingName]
	if !ok {
		return fmt.Errorf("attach certificate to thing %s: %w", thingName, errNotFound)
	}
	if !slices.Contains(th.principals, certARN) {
		th.principals = append(th.principals, certARN)
	}
	return after
}

// AttachPolicy attaches a policy to a certificate (idempotent).
func (f *IoT) AttachPolicy(_ context.Context, policy, certARN string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	before, after := f.call("AttachPolicy")
	if before != nil {
		return before
	}
	c, ok := f.certs[iotcore.CertificateID(certARN)]
	if !ok {
		return fmt.Errorf("attach policy %s: %w", policy, errNotFound)
	}
	if !slices.Contains(c.policies, policy) {
		c.policies = append(c.policies, policy)
	}
	return after
}

// SetStatus changes a certificate's status; REVOKED is final.
func (f *IoT) SetStatus(_ context.Context, certID string, status types.CertificateStatus) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	before, after := f.call("UpdateCertificate")
	if before != nil {
		return before
	}
	c, ok := f.certs[certID]
	switch {
	case !ok:
		return fmt.Errorf("set certificate %s %s: %w", certID, status, iotcore.ErrCertificateNotFound)
	case c.status == types.CertificateStatusRevoked && status != types.CertificateStatusRevoked:
		return fmt.Errorf("set certificate %s %s: %w", certID, status, iotcore.ErrCertificateRevoked)
	}
	c.status = status
	return after
}

// SetActive sets ACTIVE or INACTIVE.
func (f *IoT) SetActive(ctx context.Context, certID string, active bool) error {
	if active {
		return f.SetStatus(ctx, certID, types.CertificateStatusActive)
	}
	return f.SetStatus(ctx, certID, types.CertificateStatusInactive)
}

// ARN looks up a certificate's ARN.
func (f *IoT) ARN(_ context.Context, certID string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.read("DescribeCertificate"); err != nil {
		return "", err
	}
	c, ok := f.certs[certID]
	if !ok {
		return "", fmt.Errorf("describe certificate %s: %w", certID, iotcore.ErrCertificateNotFound)
	}
	return c.arn, nil
}

// DetachFromThing detaches a certificate (no-op when not attached).
func (f *IoT) DetachFromThing(_ context.Context, thingName, certARN string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	before, after := f.call("DetachThingPrincipal")
	if before != nil {
		return before
	}
	if th, ok := f.things[thingName]; ok {
		th.principals = slices.DeleteFunc(th.principals, func(p string) bool { return p == certARN })
	}
	return after
}

// ThingPrincipals lists a thing's certificates (none for a missing thing).
func (f *IoT) ThingPrincipals(_ context.Context, thingName string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.read("ListThingPrincipals"); err != nil {
		return nil, err
	}
	if th, ok := f.things[thingName]; ok {
		return slices.Clone(th.principals), nil
	}
	return nil, nil
}

var errNotFound = errors.New("resource not found")

// NewCertificate returns a fresh certificate of a new key for commonName and
// its IoT id (the SHA-256 of the DER): what the account's own CA mints, for
// tests that Register certificates with the fake.
func NewCertificate(commonName string) (certPEM, id string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	return CertificateFor(commonName, key.Public())
}

// CertificateFor is a certificate for pub (a device's key, from its
// certificate signing request), signed by a throwaway issuer key.
func CertificateFor(commonName string, pub crypto.PublicKey) (certPEM, id string, err error) {
	issuer, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: commonName}, NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, issuer)
	if err != nil {
		return "", "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), idOf(der), nil
}

func idOf(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}
