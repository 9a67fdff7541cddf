package iotca

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// CAValidity is the CA certificate's lifetime: longer than any device
// certificate it signs (DefaultValidity).
const CAValidity = 30 * 365 * 24 * time.Hour

// IoT is the IoT API subset the CA registration uses.
type IoT interface {
	GetRegistrationCode(ctx context.Context, in *iot.GetRegistrationCodeInput, opts ...func(*iot.Options)) (*iot.GetRegistrationCodeOutput, error)
	RegisterCACertificate(ctx context.Context, in *iot.RegisterCACertificateInput, opts ...func(*iot.Options)) (*iot.RegisterCACertificateOutput, error)
	ListCACertificates(ctx context.Context, in *iot.ListCACertificatesInput, opts ...func(*iot.Options)) (*iot.ListCACertificatesOutput, error)
	DescribeCACertificate(ctx context.Context, in *iot.DescribeCACertificateInput, opts ...func(*iot.Options)) (*iot.DescribeCACertificateOutput, error)
}

// SSM is the parameter store subset: the CA certificate lives in a parameter,
// not in code or in the template.
type SSM interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, opts ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
	PutParameter(ctx context.Context, in *ssm.PutParameterInput, opts ...func(*ssm.Options)) (*ssm.PutParameterOutput, error)
}

// ErrNoCA means the one-time CA setup has not run for this environment.
var ErrNoCA = errors.New("no IoT CA certificate")

// Setup names what Ensure creates.
type Setup struct {
	// Name is the CA's subject (e.g. "simbridge-prod device CA").
	Name string
	// Parameter is the SSM parameter receiving the CA certificate PEM.
	Parameter string
}

// Ensure makes the account's CA exist, once: a self-signed CA certificate for
// the KMS key (path length 0, CAValidity), registered with IoT Core in
// DEFAULT mode (proven with a verification certificate whose subject is the
// account's registration code, so devices need no SNI and present only their
// own certificate), and stored in the SSM parameter. Running it again
// changes nothing: the CA is found through the parameter, or — after a crash
// between registration and the parameter write — among the account's CA
// certificates by its public key, and reused.
func Ensure(ctx context.Context, signer *Signer, api IoT, params SSM, setup Setup) (*CA, error) {
	certPEM, err := readParameter(ctx, params, setup.Parameter)
	if err != nil {
		return nil, err
	}
	if certPEM == "" {
		if certPEM, err = findRegistered(ctx, api, signer); err != nil {
			return nil, err
		}
	}
	if certPEM == "" {
		if certPEM, err = selfSign(ctx, signer, setup.Name); err != nil {
			return nil, err
		}
	}
	ca, err := New(certPEM, signer)
	if err != nil {
		return nil, err
	}
	if err := register(ctx, api, ca); err != nil {
		return nil, err
	}
	_, err = params.PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String(setup.Parameter), Value: aws.String(certPEM), Type: ssmtypes.ParameterTypeString,
		Overwrite: aws.Bool(true), Description: aws.String("IoT CA certificate of simbridge (key in KMS)"),
	})
	if err != nil {
		return nil, fmt.Errorf("store CA certificate in %s: %w", setup.Parameter, err)
	}
	return ca, nil
}

// Load reads the CA certificate from its parameter and pairs it with the
// signer; a missing parameter means the one-time setup has not run.
func Load(ctx context.Context, signer *Signer, params SSM, parameter string) (*CA, error) {
	certPEM, err := readParameter(ctx, params, parameter)
	if err != nil {
		return nil, err
	}
	if certPEM == "" {
		return nil, fmt.Errorf("%w: parameter %s is missing: run the one-time CA setup (make deploy does it; simbridge ca init)", ErrNoCA, parameter)
	}
	return New(certPEM, signer)
}

func readParameter(ctx context.Context, params SSM, name string) (string, error) {
	out, err := params.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
	var nf *ssmtypes.ParameterNotFound
	if errors.As(err, &nf) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read CA certificate parameter %s: %w", name, err)
	}
	return aws.ToString(out.Parameter.Value), nil
}

// findRegistered returns the PEM of a CA certificate IoT Core already holds
// for the signer's key, or "" when there is none.
func findRegistered(ctx context.Context, api IoT, signer *Signer) (string, error) {
	p := iot.NewListCACertificatesPaginator(api, &iot.ListCACertificatesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("list CA certificates: %w", err)
		}
		for _, c := range page.Certificates {
			d, err := api.DescribeCACertificate(ctx, &iot.DescribeCACertificateInput{CertificateId: c.CertificateId})
			if err != nil {
				return "", fmt.Errorf("describe CA certificate %s: %w", aws.ToString(c.CertificateId), err)
			}
			pemText := aws.ToString(d.CertificateDescription.CertificatePem)
			if cert, err := ParseCertificate(pemText); err == nil && samePublicKey(cert.PublicKey, signer.Public()) {
				return pemText, nil
			}
		}
	}
	return "", nil
}

// register registers the CA in DEFAULT mode unless IoT Core has it already.
func register(ctx context.Context, api IoT, ca *CA) error {
	id := CertificateID(ca.Cert.Raw)
	d, err := api.DescribeCACertificate(ctx, &iot.DescribeCACertificateInput{CertificateId: aws.String(id)})
	if err == nil {
		if st := d.CertificateDescription.Status; st != iottypes.CACertificateStatusActive {
			return fmt.Errorf("CA certificate %s is registered but %s: activate it or remove it and run the setup again", id, st)
		}
		return nil
	}
	var nf *iottypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		return fmt.Errorf("describe CA certificate %s: %w", id, err)
	}
	code, err := api.GetRegistrationCode(ctx, &iot.GetRegistrationCodeInput{})
	if err != nil {
		return fmt.Errorf("get registration code: %w", err)
	}
	verification, err := ca.verificationCertificate(ctx, aws.ToString(code.RegistrationCode))
	if err != nil {
		return err
	}
	_, err = api.RegisterCACertificate(ctx, &iot.RegisterCACertificateInput{
		CaCertificate: aws.String(ca.PEM), VerificationCertificate: aws.String(verification),
		SetAsActive: true, AllowAutoRegistration: false, CertificateMode: iottypes.CertificateModeDefault,
		Tags: []iottypes.Tag{{Key: aws.String("managed-by"), Value: aws.String("simbridge")}},
	})
	var exists *iottypes.ResourceAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("register CA certificate: %w", err)
	}
	return nil
}

// selfSign creates the CA certificate through KMS.
func selfSign(ctx context.Context, signer *Signer, name string) (string, error) {
	serial, err := randomSerial()
	if err != nil {
		return "", err
	}
	now := time.Now().UTC().Add(-clockSkew)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"simbridge"}},
		NotBefore:             now,
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, signer.Public(), signer.WithContext(ctx))
	if err != nil {
		return "", fmt.Errorf("self-sign CA certificate: %w", err)
	}
	return encodeCert(der), nil
}

// verificationCertificate proves to IoT Core that we hold the CA key: a
// certificate for a throwaway key, subject CN = the registration code,
// signed by the CA.
func (ca *CA) verificationCertificate(ctx context.Context, code string) (string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	serial, err := randomSerial()
	if err != nil {
		return "", err
	}
	now := time.Now().UTC().Add(-clockSkew)
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: code},
		NotBefore: now, NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.signer.WithContext(ctx))
	if err != nil {
		return "", fmt.Errorf("sign verification certificate: %w", err)
	}
	return encodeCert(der), nil
}
