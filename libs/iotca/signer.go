// Package iotca is the account's own certificate authority for device
// certificates. Its private key never leaves AWS KMS (an asymmetric
// ECC_NIST_P256 SIGN_VERIFY key): certificates are signed through kms:Sign.
//
// Why a CA of our own: with CreateKeysAndCertificate, AWS generates the key
// and the certificate, and an answer lost after the call took effect leaves a
// certificate nobody knows. With the CA, the provisioner builds the key and
// the certificate itself, records both, and only then tells IoT Core about
// it (RegisterCertificate): the certificate id is the SHA-256 of its DER,
// known in advance, so every IoT step is idempotent and nothing can be
// orphaned.
//
// Why EC P-256 for the CA: AWS IoT accepts ECDSA-SHA256 signatures from a
// registered CA; KMS answers ECC Sign calls well above IoT's registration
// quota; signatures are small. The device keys it signs are RSA-2048 by
// default, what CreateKeysAndCertificate gives, so modem TLS stacks that only
// know RSA keep working: only IoT Core verifies the CA's signature.
package iotca

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// KMS is the API subset the CA's signer uses.
type KMS interface {
	GetPublicKey(ctx context.Context, in *kms.GetPublicKeyInput, opts ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error)
	Sign(ctx context.Context, in *kms.SignInput, opts ...func(*kms.Options)) (*kms.SignOutput, error)
}

// Signer signs with a KMS asymmetric key. It is a crypto.Signer bound to a
// context, so x509.CreateCertificate can use it for one certificate.
type Signer struct {
	kms   KMS
	keyID string
	pub   crypto.PublicKey
	alg   kmstypes.SigningAlgorithmSpec
}

// NewSigner reads the key's public half once; the key must be a SIGN_VERIFY
// key of spec ECC_NIST_P256 (or RSA, signed with PKCS#1 v1.5 SHA-256).
func NewSigner(ctx context.Context, client KMS, keyID string) (*Signer, error) {
	if keyID == "" {
		return nil, errors.New("iotca: empty KMS key id")
	}
	out, err := client.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(keyID)})
	if err != nil {
		return nil, fmt.Errorf("kms public key of %s: %w", keyID, err)
	}
	if out.KeyUsage != "" && out.KeyUsage != kmstypes.KeyUsageTypeSignVerify {
		return nil, fmt.Errorf("kms key %s has usage %s, want SIGN_VERIFY", keyID, out.KeyUsage)
	}
	pub, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("kms public key of %s: %w", keyID, err)
	}
	s := &Signer{kms: client, keyID: keyID, pub: pub}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("kms key %s is on curve %s, want P-256", keyID, k.Curve.Params().Name)
		}
		s.alg = kmstypes.SigningAlgorithmSpecEcdsaSha256
	case *rsa.PublicKey:
		s.alg = kmstypes.SigningAlgorithmSpecRsassaPkcs1V15Sha256
	default:
		return nil, fmt.Errorf("kms key %s: unsupported public key %T", keyID, pub)
	}
	return s, nil
}

// Public is the CA key's public half.
func (s *Signer) Public() crypto.PublicKey { return s.pub }

// WithContext returns a crypto.Signer whose calls to KMS use ctx.
func (s *Signer) WithContext(ctx context.Context) crypto.Signer { return ctxSigner{s: s, ctx: ctx} }

type ctxSigner struct {
	s   *Signer
	ctx context.Context
}

func (c ctxSigner) Public() crypto.PublicKey { return c.s.pub }

// Sign asks KMS to sign a SHA-256 digest; the key never leaves KMS.
func (c ctxSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts.HashFunc() != crypto.SHA256 {
		return nil, fmt.Errorf("iotca: only SHA-256 digests are signed, got %v", opts.HashFunc())
	}
	out, err := c.s.kms.Sign(c.ctx, &kms.SignInput{
		KeyId: aws.String(c.s.keyID), Message: digest, MessageType: kmstypes.MessageTypeDigest,
		SigningAlgorithm: c.s.alg,
	})
	if err != nil {
		return nil, fmt.Errorf("kms sign with %s: %w", c.s.keyID, err)
	}
	return out.Signature, nil
}
