package iotca

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// ErrKeyMismatch means a private key is not the key of a certificate: a
// device given both could not complete a TLS handshake.
var ErrKeyMismatch = errors.New("the private key does not match the certificate")

// KeyMatches checks that a PEM private key (PKCS#1, SEC 1 or PKCS#8) is the
// key of a PEM certificate, without changing or keeping either. Adopting
// another system's credentials relies on it; so do the tests' invariant
// checks.
func KeyMatches(certPEM, keyPEM string) error {
	cert, err := ParseCertificate(certPEM)
	if err != nil {
		return err
	}
	key, err := ParsePrivateKey(keyPEM)
	if err != nil {
		return err
	}
	if !samePublicKey(key.Public(), cert.PublicKey) {
		return ErrKeyMismatch
	}
	return nil
}

// ParsePrivateKey decodes one PEM private key: PKCS#1 ("RSA PRIVATE
// KEY", what CreateKeysAndCertificate answers), SEC 1 ("EC PRIVATE KEY") or
// PKCS#8 ("PRIVATE KEY"). Errors never quote the key.
func ParsePrivateKey(keyPEM string) (crypto.Signer, error) {
	b, _ := pem.Decode([]byte(keyPEM))
	if b == nil {
		return nil, errors.New("not a PEM private key")
	}
	switch b.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
		if err != nil {
			return nil, errors.New("RSA PRIVATE KEY block is not a PKCS#1 key")
		}
		return k, nil
	case "EC PRIVATE KEY":
		k, err := x509.ParseECPrivateKey(b.Bytes)
		if err != nil {
			return nil, errors.New("EC PRIVATE KEY block is not a SEC 1 key")
		}
		return k, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			return nil, errors.New("PRIVATE KEY block is not a PKCS#8 key")
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("a %T key cannot sign", k)
		}
		return s, nil
	default:
		return nil, fmt.Errorf("PEM block %q is not a private key", b.Type)
	}
}
