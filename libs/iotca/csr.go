package iotca

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// Reasons a certificate signing request is refused; each error CheckCSR
// and DecodeCSR return wraps one, with the detail a device developer needs.
var (
	// ErrCSRMalformed: not a PKCS#10 request in PEM or DER.
	ErrCSRMalformed = errors.New("not a PKCS#10 certificate signing request (PEM or DER)")
	// ErrCSRSignature: the request is not signed by the key it carries, so
	// the sender has not shown it holds the private key.
	ErrCSRSignature = errors.New("the request's signature does not verify with its own public key (proof of possession)")
	// ErrCSRKey: a key the CA does not certify.
	ErrCSRKey = errors.New("key not accepted: use ECDSA P-256 or RSA of 2048 to 4096 bits")
)

// RSA key sizes the CA certifies: AWS IoT Core's floor, and a ceiling that
// keeps a request's signature check cheap.
const (
	minRSABits = 2048
	maxRSABits = 4096
)

// pemCSRTypes are the PEM labels of a PKCS#10 request (RFC 7468 and the
// older one OpenSSL still reads).
var pemCSRTypes = map[string]bool{"CERTIFICATE REQUEST": true, "NEW CERTIFICATE REQUEST": true}

// DecodeCSR returns the DER of a request sent as PEM (one block; text
// around it is ignored, as OpenSSL does) or as DER.
func DecodeCSR(body []byte) ([]byte, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%w: the body is empty", ErrCSRMalformed)
	}
	if i := bytes.Index(trimmed, []byte("-----BEGIN ")); i >= 0 {
		block, _ := pem.Decode(trimmed[i:])
		switch {
		case block == nil:
			return nil, fmt.Errorf("%w: the PEM block does not decode", ErrCSRMalformed)
		case !pemCSRTypes[block.Type]:
			return nil, fmt.Errorf("%w: a PEM %q block, want CERTIFICATE REQUEST", ErrCSRMalformed, block.Type)
		}
		return block.Bytes, nil
	}
	// DER is binary: a byte that reads as white space may end its signature,
	// so the body is taken whole.
	return body, nil
}

// CheckCSR parses a DER request and checks everything the CA relies on:
// its signature by its own key (proof of possession) and an accepted key
// (AcceptKey). What it asks for besides — subject, extensions, CA rights —
// is ignored: the certificate's contents are the CA's (Certify).
func CheckCSR(der []byte) (*x509.CertificateRequest, error) {
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCSRMalformed, err)
	}
	if err := AcceptKey(csr.PublicKey); err != nil {
		return nil, err
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCSRSignature, err)
	}
	return csr, nil
}

// AcceptKey refuses public keys the CA does not certify: anything but
// ECDSA on P-256 and RSA of 2048 to 4096 bits (what AWS IoT Core and the
// modems' TLS stacks have in common), with a reason naming the key.
func AcceptKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return fmt.Errorf("%w (got ECDSA %s)", ErrCSRKey, k.Curve.Params().Name)
		}
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < minRSABits || n > maxRSABits {
			return fmt.Errorf("%w (got RSA of %d bits)", ErrCSRKey, n)
		}
	case ed25519.PublicKey:
		return fmt.Errorf("%w (got Ed25519)", ErrCSRKey)
	case nil:
		return fmt.Errorf("%w (an algorithm Go does not know)", ErrCSRKey)
	default:
		return fmt.Errorf("%w (got %T)", ErrCSRKey, pub)
	}
	return nil
}
