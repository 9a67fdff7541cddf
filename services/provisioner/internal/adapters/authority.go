package adapters

import (
	"context"
	"fmt"
	"time"

	"github.com/simbridge/simbridge/libs/iotca"
	"github.com/simbridge/simbridge/libs/iotcore"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/services/provisioner/internal/app"
)

// Registrar registers certificates signed by the account's CA
// (libs/iotcore).
type Registrar interface {
	Register(ctx context.Context, certPEM, caPEM string) (arn string, existed bool, err error)
}

// CertificateMaker has IoT Core create a key and certificate
// (libs/iotcore).
type CertificateMaker interface {
	CreateCertificate(ctx context.Context) (iotcore.Certificate, error)
}

// OwnCA mints certificates with the account's CA (key in KMS) and registers
// them with IoT Core: the certificate exists in the record before IoT Core
// hears of it.
type OwnCA struct {
	CA       *iotca.CA
	IoT      Registrar
	Keys     iotca.Keys
	Validity time.Duration
}

// Name is simrec.AuthorityOwn.
func (OwnCA) Name() string { return simrec.AuthorityOwn }

// Mint generates the device key and signs its certificate through KMS.
func (o OwnCA) Mint(ctx context.Context, iccid string) (app.Minted, error) {
	is, err := o.CA.Issue(ctx, iccid, o.Keys, o.Validity)
	if err != nil {
		return app.Minted{}, err
	}
	return app.Minted{ID: is.ID, CertPEM: is.CertPEM, KeyPEM: is.KeyPEM}, nil
}

// Certify checks a device's request again (proof of possession, an
// accepted key) and signs a certificate for its key through KMS; a request
// that fails the checks is app.ErrCannotCertify.
func (o OwnCA) Certify(ctx context.Context, iccid string, request []byte) (app.Minted, error) {
	der, err := iotca.DecodeCSR(request)
	if err != nil {
		return app.Minted{}, fmt.Errorf("%w: %w", app.ErrCannotCertify, err)
	}
	csr, err := iotca.CheckCSR(der)
	if err != nil {
		return app.Minted{}, fmt.Errorf("%w: %w", app.ErrCannotCertify, err)
	}
	is, err := o.CA.Certify(ctx, iccid, csr.PublicKey, o.Validity)
	if err != nil {
		return app.Minted{}, err
	}
	return app.Minted{ID: is.ID, CertPEM: is.CertPEM}, nil
}

// Register registers the certificate with the CA, ACTIVE on first
// registration; registering it again is success.
func (o OwnCA) Register(ctx context.Context, c simrec.Credentials) (string, bool, error) {
	arn, existed, err := o.IoT.Register(ctx, c.PEM, o.CA.PEM)
	return arn, !existed, err
}

// AmazonCA mints with CreateKeysAndCertificate (INACTIVE, retried only on
// throttling): an answer lost for good leaves an INACTIVE certificate
// attached to nothing, which nothing here ever touches.
type AmazonCA struct {
	IoT CertificateMaker
}

// Name is simrec.AuthorityAWS.
func (AmazonCA) Name() string { return simrec.AuthorityAWS }

// Mint creates the key and certificate in IoT Core.
func (a AmazonCA) Mint(ctx context.Context, _ string) (app.Minted, error) {
	c, err := a.IoT.CreateCertificate(ctx)
	if err != nil {
		return app.Minted{}, err
	}
	return app.Minted{ID: c.ID, ARN: c.ARN, CertPEM: c.PEM, KeyPEM: c.PrivateKey}, nil
}

// Certify is refused: enrolment needs the account's own CA. (IoT Core's
// CreateCertificateFromCsr creates the certificate before any record could
// name it, so an answer lost after it took effect would orphan it.)
func (AmazonCA) Certify(context.Context, string, []byte) (app.Minted, error) {
	return app.Minted{}, fmt.Errorf("%w: enrolment needs CERT_AUTHORITY=own", app.ErrCannotCertify)
}

// Register has nothing to do: the certificate exists since Mint, INACTIVE.
func (AmazonCA) Register(_ context.Context, c simrec.Credentials) (string, bool, error) {
	return c.ARN, false, nil
}
