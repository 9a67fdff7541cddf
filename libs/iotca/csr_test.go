package iotca_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/simbridge/simbridge/libs/iotca"
	"github.com/simbridge/simbridge/libs/testkit"
)

// Every request is refused unless it proves possession of an accepted key;
// each refusal says why.
func TestCheckCSR(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind    testkit.CSRKind
		wantErr error
		says    string
	}{
		{testkit.CSRP256, nil, ""},
		{testkit.CSRRSA2048, nil, ""},
		{testkit.CSRBadSignature, iotca.ErrCSRSignature, "proof of possession"},
		{testkit.CSRRSA1024, iotca.ErrCSRKey, "RSA of 1024 bits"},
		{testkit.CSRP384, iotca.ErrCSRKey, "ECDSA P-384"},
		{testkit.CSREd25519, iotca.ErrCSRKey, "Ed25519"},
	}
	for _, tc := range tests {
		t.Run(string(tc.kind), func(t *testing.T) {
			t.Parallel()
			der, key := testkit.NewCSR(t, tc.kind)
			for name, body := range map[string][]byte{"DER": der, "PEM": testkit.CSRPEM(der),
				"PEM with text around": append(append([]byte("subject=whatever\n"), testkit.CSRPEM(der)...), "\n\n"...)} {
				got, err := iotca.DecodeCSR(body)
				if err != nil || !bytes.Equal(got, der) {
					t.Fatalf("%s: decoded %v", name, err)
				}
				csr, err := iotca.CheckCSR(got)
				if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.says)) {
					t.Fatalf("%s: %v, want %v saying %q", name, err, tc.wantErr, tc.says)
				}
				if err == nil && !key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(csr.PublicKey) {
					t.Fatalf("%s: the request's key is not the one checked", name)
				}
			}
		})
	}
}

func TestDecodeCSRRefusesWhatIsNoRequest(t *testing.T) {
	t.Parallel()
	der, _ := testkit.NewCSR(t, testkit.CSRP256)
	certPEM := "-----BEGIN CERTIFICATE-----\n" + "MIIB" + "\n-----END CERTIFICATE-----\n"
	for name, body := range map[string]string{
		"empty":               "  \n",
		"garbage":             "hello, I am a modem",
		"a certificate":       certPEM,
		"a broken PEM block":  "-----BEGIN CERTIFICATE REQUEST-----\n%%%\n",
		"truncated DER":       string(der[:len(der)/2]),
		"DER with extra data": string(der) + "tail",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d, err := iotca.DecodeCSR([]byte(body))
			if err == nil {
				_, err = iotca.CheckCSR(d)
			}
			if !errors.Is(err, iotca.ErrCSRMalformed) {
				t.Fatalf("got %v, want a malformed request", err)
			}
		})
	}
}

// The certificate for a request carries the request's public key and the
// CA's own contents — CN = ICCID, client authentication only, not a CA —
// whatever the request asked for, and registers under the id computed in
// advance.
func TestCertifySetsOurSubjectAndExtensions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testkit.AWSConfigFor(t, testkit.OwnMoto(t))
	k, api := kms.NewFromConfig(cfg), iot.NewFromConfig(cfg)
	signer, err := iotca.NewSigner(ctx, k, newKey(t, k, kmstypes.KeySpecEccNistP256))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := iotca.Ensure(ctx, signer, api, ssm.NewFromConfig(cfg), iotca.Setup{Name: "test CA", Parameter: testkit.Name(t)})
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []testkit.CSRKind{testkit.CSRP256, testkit.CSRRSA2048} {
		der, key := testkit.NewCSR(t, kind)
		csr, err := iotca.CheckCSR(der)
		if err != nil {
			t.Fatal(err)
		}
		is, err := ca.Certify(ctx, "8988280666000000001", csr.PublicKey, iotca.DefaultValidity)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if is.KeyPEM != "" {
			t.Fatalf("%s: a private key came back for a device-held key", kind)
		}
		cert, _ := iotca.ParseCertificate(is.CertPEM)
		if err := testkit.ChainsTo(is.CertPEM, ca.PEM); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if !key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(cert.PublicKey) {
			t.Fatalf("%s: the certificate is not for the request's key", kind)
		}
		if cert.Subject.String() != "CN=8988280666000000001" || len(cert.DNSNames) != 0 || cert.IsCA || !cert.BasicConstraintsValid ||
			len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth || cert.KeyUsage&x509.KeyUsageCertSign != 0 {
			t.Fatalf("%s: subject %q, DNS %v, CA %v, EKU %v, usage %b: the request's wishes leaked in", kind, cert.Subject, cert.DNSNames, cert.IsCA, cert.ExtKeyUsage, cert.KeyUsage)
		}
		out, err := api.RegisterCertificate(ctx, &iot.RegisterCertificateInput{CertificatePem: aws.String(is.CertPEM), CaCertificatePem: aws.String(ca.PEM)})
		if err != nil || aws.ToString(out.CertificateId) != is.ID {
			t.Fatalf("%s: registered as %s (%v), id computed in advance %s", kind, aws.ToString(out.CertificateId), err, is.ID)
		}
	}
	_, weak := testkit.NewCSR(t, testkit.CSRRSA1024)
	if _, err := ca.Certify(ctx, "8988280666000000001", weak.Public(), iotca.DefaultValidity); !errors.Is(err, iotca.ErrCSRKey) {
		t.Fatalf("a weak key was certified: %v", err)
	}
}

// TestDERIsTakenWhole: a DER request whose signature ends in a byte that
// reads as white space decodes to itself (trimming it would refuse a valid
// request).
func TestDERIsTakenWhole(t *testing.T) {
	t.Parallel()
	for range 2000 {
		der, _ := testkit.NewCSR(t, testkit.CSRP256)
		if !bytes.ContainsAny(der[len(der)-1:], " \t\n\r\v\f") {
			continue
		}
		got, err := iotca.DecodeCSR(der)
		if err != nil || !bytes.Equal(got, der) {
			t.Fatalf("decoded %d of %d bytes (%v)", len(got), len(der), err)
		}
		if _, err := iotca.CheckCSR(got); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("no request ending in white space in 2,000 tries")
}
