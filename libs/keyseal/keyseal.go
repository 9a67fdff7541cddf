// Package keyseal encrypts device private keys with KMS before they are
// stored and decrypts them only to answer a device. The SIM's ICCID is bound
// into the KMS encryption context, so a ciphertext copied onto another SIM's
// record does not decrypt.
package keyseal

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// KMS is the API subset used here.
type KMS interface {
	Encrypt(ctx context.Context, in *kms.EncryptInput, opts ...func(*kms.Options)) (*kms.EncryptOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, opts ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// Sealer encrypts under one KMS key.
type Sealer struct {
	kms   KMS
	keyID string
}

// NewSealer returns a sealer for keyID (key id, ARN or alias).
func NewSealer(client KMS, keyID string) (*Sealer, error) {
	if keyID == "" {
		return nil, errors.New("keyseal: empty KMS key id")
	}
	return &Sealer{kms: client, keyID: keyID}, nil
}

// Seal encrypts plaintext for the SIM iccid.
func (s *Sealer) Seal(ctx context.Context, iccid string, plaintext []byte) ([]byte, error) {
	out, err := s.kms.Encrypt(ctx, &kms.EncryptInput{
		KeyId:             aws.String(s.keyID),
		Plaintext:         plaintext,
		EncryptionContext: encryptionContext(iccid),
	})
	if err != nil {
		return nil, fmt.Errorf("kms encrypt key of %s: %w", iccid, err)
	}
	return out.CiphertextBlob, nil
}

// Opener decrypts what a Sealer sealed.
type Opener struct {
	kms   KMS
	keyID string
}

// NewOpener returns an opener; keyID, when set, pins the key KMS must use.
func NewOpener(client KMS, keyID string) *Opener { return &Opener{kms: client, keyID: keyID} }

// Open decrypts the key sealed for iccid.
func (o *Opener) Open(ctx context.Context, iccid string, ciphertext []byte) ([]byte, error) {
	in := &kms.DecryptInput{CiphertextBlob: ciphertext, EncryptionContext: encryptionContext(iccid)}
	if o.keyID != "" {
		in.KeyId = aws.String(o.keyID)
	}
	out, err := o.kms.Decrypt(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("kms decrypt key of %s: %w", iccid, err)
	}
	return out.Plaintext, nil
}

func encryptionContext(iccid string) map[string]string {
	return map[string]string{"purpose": "device-private-key", "iccid": iccid}
}
