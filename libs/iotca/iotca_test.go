package iotca_test

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/simbridge/simbridge/libs/iotca"
	"github.com/simbridge/simbridge/libs/testkit"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

func newKey(t *testing.T, k *kms.Client, spec kmstypes.KeySpec) string {
	t.Helper()
	out, err := k.CreateKey(context.Background(), &kms.CreateKeyInput{KeySpec: spec, KeyUsage: kmstypes.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.KeyMetadata.Arn)
}

// The one-time setup registers a DEFAULT-mode CA for the KMS key and stores
// it in SSM; running it again, or after a crash that lost the parameter,
// reuses that CA instead of registering another.
func TestEnsureRegistersOneCAForTheKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testkit.AWSConfigFor(t, testkit.OwnMoto(t))
	k, api, params := kms.NewFromConfig(cfg), iot.NewFromConfig(cfg), ssm.NewFromConfig(cfg)
	signer, err := iotca.NewSigner(ctx, k, newKey(t, k, kmstypes.KeySpecEccNistP256))
	if err != nil {
		t.Fatal(err)
	}
	setup := iotca.Setup{Name: "test device CA", Parameter: testkit.Name(t)}
	first, err := iotca.Ensure(ctx, signer, api, params, setup)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Cert.IsCA || first.Cert.MaxPathLen != 0 || !first.Cert.MaxPathLenZero || first.Cert.NotAfter.Before(time.Now().Add(29*365*24*time.Hour)) {
		t.Fatalf("CA certificate: isCA=%v pathlen=%d/%v notAfter=%s", first.Cert.IsCA, first.Cert.MaxPathLen, first.Cert.MaxPathLenZero, first.Cert.NotAfter)
	}
	d, err := api.DescribeCACertificate(ctx, &iot.DescribeCACertificateInput{CertificateId: aws.String(iotca.CertificateID(first.Cert.Raw))})
	if err != nil || d.CertificateDescription.Status != iottypes.CACertificateStatusActive {
		t.Fatalf("CA not registered ACTIVE: %v", err)
	}
	again, err := iotca.Ensure(ctx, signer, api, params, setup)
	if err != nil || again.PEM != first.PEM {
		t.Fatalf("second run must reuse the CA (%v)", err)
	}
	if _, err := params.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(setup.Parameter)}); err != nil {
		t.Fatal(err)
	}
	recovered, err := iotca.Ensure(ctx, signer, api, params, setup)
	if err != nil || recovered.PEM != first.PEM {
		t.Fatalf("a run after the parameter was lost must find the registered CA (%v)", err)
	}
	list, err := api.ListCACertificates(ctx, &iot.ListCACertificatesInput{})
	if err != nil || len(list.Certificates) != 1 {
		t.Fatalf("want exactly one CA registered, got %d (%v)", len(list.Certificates), err)
	}
	loaded, err := iotca.Load(ctx, signer, params, setup.Parameter)
	if err != nil || loaded.PEM != first.PEM {
		t.Fatalf("Load: %v", err)
	}
	if _, err := iotca.Load(ctx, signer, params, "missing-"+setup.Parameter); err == nil || !errors.Is(err, iotca.ErrNoCA) {
		t.Fatalf("a missing parameter must say how to create the CA, got %v", err)
	}
	other, err := iotca.NewSigner(ctx, k, newKey(t, k, kmstypes.KeySpecEccNistP256))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iotca.Load(ctx, other, params, setup.Parameter); err == nil {
		t.Fatal("a CA certificate of another key must be refused")
	}
}

// Device certificates: CN = ICCID, client auth, chained to the CA, matching
// their key, registrable with IoT Core under the id computed in advance.
func TestIssuedCertificatesChainAndRegister(t *testing.T) {
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
	// Keys generated on demand of each type, and one taken from a pool.
	pool, err := iotca.NewKeyPool(iotca.KeyRSA2048, 1)
	if err != nil {
		t.Fatal(err)
	}
	poolCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = pool.Run(poolCtx) }()
	testkit.Eventually(t, 30*time.Second, "a pooled key", func() error {
		if pool.Ready() == 0 {
			return errors.New("none yet")
		}
		return nil
	})
	for _, keys := range []iotca.Keys{iotca.KeyRSA2048, iotca.KeyECP256, pool} {
		kt := keys.KeyType()
		is, err := ca.Issue(ctx, "8988280666000000001", keys, iotca.DefaultValidity)
		if err != nil {
			t.Fatalf("%s: %v", kt, err)
		}
		if err := testkit.ChainsTo(is.CertPEM, ca.PEM); err != nil {
			t.Fatalf("%s: certificate does not chain to the CA: %v", kt, err)
		}
		if err := testkit.KeyMatches(is.CertPEM, is.KeyPEM); err != nil {
			t.Fatalf("%s: %v", kt, err)
		}
		cert, _ := iotca.ParseCertificate(is.CertPEM)
		if cert.Subject.CommonName != "8988280666000000001" || cert.IsCA || cert.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth ||
			cert.NotAfter.Before(time.Now().Add(19*365*24*time.Hour)) {
			t.Fatalf("%s: subject %q isCA %v notAfter %s", kt, cert.Subject.CommonName, cert.IsCA, cert.NotAfter)
		}
		if kt == iotca.KeyRSA2048 && !strings.Contains(is.KeyPEM, "RSA PRIVATE KEY") {
			t.Fatal("RSA keys are PKCS#1, as CreateKeysAndCertificate answers")
		}
		out, err := api.RegisterCertificate(ctx, &iot.RegisterCertificateInput{CertificatePem: aws.String(is.CertPEM), CaCertificatePem: aws.String(ca.PEM)})
		if err != nil || aws.ToString(out.CertificateId) != is.ID {
			t.Fatalf("%s: registered as %s (%v), id computed in advance %s", kt, aws.ToString(out.CertificateId), err, is.ID)
		}
	}
	// A certificate the CA did not sign is refused, as AWS does.
	self, err := iotca.NewSigner(ctx, k, newKey(t, k, kmstypes.KeySpecEccNistP256))
	if err != nil {
		t.Fatal(err)
	}
	otherCA, err := iotca.Ensure(ctx, self, api, ssm.NewFromConfig(cfg), iotca.Setup{Name: "other CA", Parameter: testkit.Name(t)})
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := otherCA.Issue(ctx, "8988280666000000002", iotca.KeyECP256, time.Hour*24)
	if _, err := api.RegisterCertificate(ctx, &iot.RegisterCertificateInput{CertificatePem: aws.String(foreign.CertPEM), CaCertificatePem: aws.String(ca.PEM)}); err == nil {
		t.Fatal("a certificate of another CA must not register under this one")
	}
}
