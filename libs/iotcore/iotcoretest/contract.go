// Package iotcoretest is the contract of the IoT Core operations the use
// cases rely on; it runs against libs/iotcore on the emulator and against
// libs/iotcore/iotfake, so unit tests on the fake stay honest.
package iotcoretest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/simbridge/simbridge/libs/iotcore"
)

// IoT is the behaviour under contract.
type IoT interface {
	EnsureThing(ctx context.Context, spec iotcore.ThingSpec) (iotcore.Thing, error)
	CreateCertificate(ctx context.Context) (iotcore.Certificate, error)
	Register(ctx context.Context, certPEM, caPEM string) (string, bool, error)
	AttachToThing(ctx context.Context, thing, certARN string) error
	AttachPolicy(ctx context.Context, policy, certARN string) error
	SetStatus(ctx context.Context, certID string, status types.CertificateStatus) error
	ARN(ctx context.Context, certID string) (string, error)
	DetachFromThing(ctx context.Context, thing, certARN string) error
	ThingPrincipals(ctx context.Context, thing string) ([]string, error)
}

// Subject is one implementation with what the contract needs around it.
type Subject struct {
	IoT IoT
	// Status reads a certificate's status ("" when unknown).
	Status func(t *testing.T, id string) types.CertificateStatus
	// Foreign creates a thing simbridge did not make.
	Foreign func(t *testing.T, name string)
	// Issue returns a certificate signed by a registered CA, its CA and id.
	Issue func(t *testing.T) (certPEM, caPEM, id string)
	// Policy is an existing policy name, ThingType an existing thing type;
	// Name returns unique names.
	Policy, ThingType string
	Name              func(t *testing.T) string
}

// Run runs the contract against fresh subjects.
func Run(t *testing.T, newSubject func(t *testing.T) Subject) {
	cases := map[string]func(t *testing.T, s Subject){
		"things are made once, managed, with attributes": things,
		"a foreign thing is not managed":                 foreign,
		"a typeless thing has three attributes at most":  typeless,
		"registering is idempotent and ACTIVE":           register,
		"revoked is final, unknown is reported":          statuses,
		"attachments are idempotent":                     attachments,
		"Amazon's certificates start INACTIVE":           amazon,
	}
	for name, fn := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, newSubject(t))
		})
	}
}

func things(t *testing.T, s Subject) {
	ctx := context.Background()
	name := s.Name(t)
	spec := iotcore.ThingSpec{Name: name, Attributes: map[string]string{"label": "tank 7"}}
	for i := range 2 {
		th, err := s.IoT.EnsureThing(ctx, spec)
		if err != nil || !th.Managed || th.Created != (i == 0) {
			t.Fatalf("EnsureThing #%d = %+v, %v", i+1, th, err)
		}
	}
}

// typeless: a Thing without a thing type carries at most three attributes,
// as on AWS; with the type it carries more.
func typeless(t *testing.T, s Subject) {
	four := map[string]string{"imsi": "1", "msisdn": "2", "label": "3"}
	if _, err := s.IoT.EnsureThing(context.Background(), iotcore.ThingSpec{Name: s.Name(t), Attributes: four}); err == nil {
		t.Fatal("a typeless thing with four attributes (managed-by and three) was created")
	}
	if _, err := s.IoT.EnsureThing(context.Background(), iotcore.ThingSpec{Name: s.Name(t), Attributes: four, Type: s.ThingType}); err != nil {
		t.Fatalf("with the thing type: %v", err)
	}
}

func foreign(t *testing.T, s Subject) {
	name := s.Name(t)
	s.Foreign(t, name)
	th, err := s.IoT.EnsureThing(context.Background(), iotcore.ThingSpec{Name: name})
	if err != nil || th.Managed || th.Created {
		t.Fatalf("EnsureThing of a foreign thing = %+v, %v", th, err)
	}
}

func register(t *testing.T, s Subject) {
	ctx := context.Background()
	certPEM, caPEM, id := s.Issue(t)
	arn, existed, err := s.IoT.Register(ctx, certPEM, caPEM)
	if err != nil || existed || iotcore.CertificateID(arn) != id {
		t.Fatalf("Register = %s, %v, %v", arn, existed, err)
	}
	if st := s.Status(t, id); st != types.CertificateStatusActive {
		t.Fatalf("registered %s", st)
	}
	again, existed, err := s.IoT.Register(ctx, certPEM, caPEM)
	if err != nil || !existed || again != arn {
		t.Fatalf("second Register = %s, %v, %v", again, existed, err)
	}
	if got, err := s.IoT.ARN(ctx, id); err != nil || got != arn {
		t.Fatalf("ARN = %s, %v", got, err)
	}
}

func statuses(t *testing.T, s Subject) {
	ctx := context.Background()
	certPEM, caPEM, id := s.Issue(t)
	if _, _, err := s.IoT.Register(ctx, certPEM, caPEM); err != nil {
		t.Fatal(err)
	}
	for _, st := range []types.CertificateStatus{iotcore.StatusInactive, iotcore.StatusActive, iotcore.StatusRevoked, iotcore.StatusRevoked} {
		if err := s.IoT.SetStatus(ctx, id, st); err != nil {
			t.Fatalf("SetStatus %s: %v", st, err)
		}
	}
	if err := s.IoT.SetStatus(ctx, id, iotcore.StatusActive); !errors.Is(err, iotcore.ErrCertificateRevoked) {
		t.Fatalf("activating a revoked certificate: %v", err)
	}
	unknown := "00" + id[2:]
	if err := s.IoT.SetStatus(ctx, unknown, iotcore.StatusInactive); !errors.Is(err, iotcore.ErrCertificateNotFound) {
		t.Fatalf("unknown certificate: %v", err)
	}
	if _, err := s.IoT.ARN(ctx, unknown); !errors.Is(err, iotcore.ErrCertificateNotFound) {
		t.Fatalf("ARN of an unknown certificate: %v", err)
	}
}

func attachments(t *testing.T, s Subject) {
	ctx := context.Background()
	name := s.Name(t)
	if _, err := s.IoT.EnsureThing(ctx, iotcore.ThingSpec{Name: name}); err != nil {
		t.Fatal(err)
	}
	certPEM, caPEM, _ := s.Issue(t)
	arn, _, err := s.IoT.Register(ctx, certPEM, caPEM)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.IoT.AttachToThing(ctx, name, arn); err != nil {
			t.Fatal(err)
		}
		if err := s.IoT.AttachPolicy(ctx, s.Policy, arn); err != nil {
			t.Fatal(err)
		}
	}
	if ps, err := s.IoT.ThingPrincipals(ctx, name); err != nil || !slices.Equal(ps, []string{arn}) {
		t.Fatalf("principals %v, %v", ps, err)
	}
	for range 2 {
		if err := s.IoT.DetachFromThing(ctx, name, arn); err != nil {
			t.Fatal(err)
		}
	}
	if ps, _ := s.IoT.ThingPrincipals(ctx, name); len(ps) != 0 {
		t.Fatalf("still attached: %v", ps)
	}
	if ps, err := s.IoT.ThingPrincipals(ctx, "missing-"+name); err != nil || len(ps) != 0 {
		t.Fatalf("principals of a missing thing: %v, %v", ps, err)
	}
}

func amazon(t *testing.T, s Subject) {
	c, err := s.IoT.CreateCertificate(context.Background())
	if err != nil || c.PrivateKey == "" || iotcore.CertificateID(c.ARN) != c.ID {
		t.Fatalf("CreateCertificate = %+v, %v", c.ID, err)
	}
	if st := s.Status(t, c.ID); st != types.CertificateStatusInactive {
		t.Fatalf("new certificate %s, want INACTIVE", st)
	}
}
