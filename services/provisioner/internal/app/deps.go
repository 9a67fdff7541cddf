package app

import (
	"context"
	"errors"
	"log/slog"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simrec"
)

// Store reads and conditionally writes SIM records (simstore).
type Store interface {
	simrec.ClaimStore
	Create(ctx context.Context, r simrec.Record) (simrec.Record, error)
}

// IoT is IoT Core as the use cases need it: the SIM's Thing and the status
// of its certificates. Every call is idempotent, so a redelivered command
// repeats it safely.
type IoT interface {
	// EnsureThing creates the SIM's Thing unless it exists.
	EnsureThing(ctx context.Context, t Thing) error
	// AttachToThing attaches the certificate to the Thing.
	AttachToThing(ctx context.Context, thing, certARN string) error
	// AttachPolicy gives the certificate the device policy.
	AttachPolicy(ctx context.Context, certARN string) error
	// Activate makes the certificate ACTIVE; ErrCannotActivate when IoT Core
	// refuses (it is REVOKED) or does not know it.
	Activate(ctx context.Context, certID string) error
	// Revoke makes a replaced certificate REVOKED for good (one IoT Core
	// does not know grants nothing: success).
	Revoke(ctx context.Context, certARN string) error
	// DetachFromThing detaches the certificate from the Thing.
	DetachFromThing(ctx context.Context, thing, certARN string) error
}

// Thing is what a SIM's Thing carries: its name (the ICCID) and what makes
// it searchable.
type Thing struct {
	Name                string
	IMSI, MSISDN, Label string
}

// ErrCannotActivate means IoT Core will not make a certificate ACTIVE: it is
// REVOKED, or IoT Core does not know it (any more).
var ErrCannotActivate = errors.New("IoT Core will not activate the certificate")

// Authority mints certificates and makes IoT Core know them.
type Authority interface {
	// Name is simrec.AuthorityOwn or simrec.AuthorityAWS.
	Name() string
	// Mint creates a key and certificate for the SIM. The own CA does it
	// without IoT Core; Amazon's CA creates it there, INACTIVE.
	Mint(ctx context.Context, iccid string) (Minted, error)
	// Certify makes a certificate for the public key of a device's
	// certificate signing request (PEM or DER), checked again here: proof of
	// possession, an accepted key; the subject and extensions are the CA's.
	// Nothing reaches IoT Core. ErrCannotCertify when it never will (a bad
	// request, or an authority that cannot: Amazon's CA).
	Certify(ctx context.Context, iccid string, csr []byte) (Minted, error)
	// Register makes IoT Core know a minted certificate and returns its ARN;
	// active says it is ACTIVE already (a fresh own-CA registration), so no
	// activation call is needed.
	Register(ctx context.Context, c simrec.Credentials) (arn string, active bool, err error)
}

// ErrCannotCertify means an enrolment's request will never be certified:
// the command is refused, not retried.
var ErrCannotCertify = errors.New("the certificate signing request cannot be certified")

// Minted is a fresh certificate; KeyPEM is the plaintext key, sealed before
// it is stored (empty for a certified request: the device holds the key).
type Minted struct {
	ID, ARN, CertPEM, KeyPEM string
}

// Sealer encrypts a private key for one SIM.
type Sealer interface {
	Seal(ctx context.Context, iccid string, plaintext []byte) ([]byte, error)
}

// Announcer tells the world a SIM changed: SNS success topic and the MQTT
// registration topic.
type Announcer interface {
	Announce(ctx context.Context, n events.Notification) error
}

// Notifier tells operators about a command that cannot be carried out.
type Notifier interface {
	Failure(ctx context.Context, iccid, ip, msg string) error
}

// Deps are the provisioner's collaborators.
type Deps struct {
	Store     Store
	IoT       IoT
	Authority Authority
	Sealer    Sealer
	Announcer Announcer
	Notifier  Notifier
	Logger    *slog.Logger
	// Clock times claims, certificates and announcements (nil: the wall
	// clock).
	Clock simrec.Clock
	// KeyMode is the environment's key mode (KEY_MODE; "" is server); a
	// SIM's own mode wins.
	KeyMode simrec.KeyMode
}
