package iotca

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// KeyType is the kind of device key the CA issues certificates for.
type KeyType string

// Device key types.
const (
	// KeyRSA2048 is what CreateKeysAndCertificate gives: every modem TLS
	// stack that worked with Amazon-issued certificates keeps working.
	KeyRSA2048 KeyType = "rsa2048"
	// KeyECP256 is smaller and faster, for devices whose TLS stack supports it.
	KeyECP256 KeyType = "ecp256"
)

// ParseKeyType validates a configured key type.
func ParseKeyType(s string) (KeyType, error) {
	switch k := KeyType(s); k {
	case KeyRSA2048, KeyECP256:
		return k, nil
	default:
		return "", fmt.Errorf("device key type %q: want %s or %s", s, KeyRSA2048, KeyECP256)
	}
}

// DefaultValidity is how long device certificates are valid: 20 years, like
// the certificates AWS issues.
const DefaultValidity = 20 * 365 * 24 * time.Hour

// clockSkew backdates NotBefore so a device or IoT Core whose clock is a
// little behind accepts a fresh certificate.
const clockSkew = 5 * time.Minute

// CA is the loaded certificate authority: its certificate and its KMS signer.
type CA struct {
	Cert   *x509.Certificate
	PEM    string
	signer *Signer
}

// New pairs a CA certificate with the KMS signer of its key and checks that
// they belong together, so a misconfigured key id fails at start.
func New(certPEM string, signer *Signer) (*CA, error) {
	cert, err := ParseCertificate(certPEM)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	if !cert.IsCA {
		return nil, errors.New("CA certificate is not a CA (basic constraints)")
	}
	if !samePublicKey(cert.PublicKey, signer.Public()) {
		return nil, fmt.Errorf("CA certificate does not belong to KMS key %s", signer.keyID)
	}
	return &CA{Cert: cert, PEM: certPEM, signer: signer}, nil
}

// Issued is a device certificate with its private key, both PEM.
type Issued struct {
	// ID is the IoT certificate id: the SHA-256 of the DER, as AWS computes it.
	ID      string
	CertPEM string
	KeyPEM  string
}

// Issue takes a fresh device key from keys (a KeyType generates it now) and
// makes a certificate for it (subject CN = the ICCID, a random serial),
// signed by the CA through KMS. Nothing reaches IoT Core: the caller records
// the result first, then registers it.
func (ca *CA) Issue(ctx context.Context, iccid string, keys Keys, validity time.Duration) (Issued, error) {
	key, err := keys.Key()
	if err != nil {
		return Issued{}, fmt.Errorf("device key: %w", err)
	}
	certPEM, id, err := ca.sign(ctx, iccid, key.Public(), validity)
	if err != nil {
		return Issued{}, err
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return Issued{}, err
	}
	return Issued{ID: id, CertPEM: certPEM, KeyPEM: keyPEM}, nil
}

// Certify makes a certificate for a public key the device holds the
// private key of (its certificate signing request, checked by CheckCSR),
// signed by the CA through KMS, with the same subject, extensions and
// validity as Issue's whatever the request asked for. There is no key to
// return: Issued.KeyPEM is empty.
func (ca *CA) Certify(ctx context.Context, iccid string, pub crypto.PublicKey, validity time.Duration) (Issued, error) {
	if err := AcceptKey(pub); err != nil {
		return Issued{}, err
	}
	certPEM, id, err := ca.sign(ctx, iccid, pub, validity)
	if err != nil {
		return Issued{}, err
	}
	return Issued{ID: id, CertPEM: certPEM}, nil
}

// sign makes the device certificate of pub: subject CN = the ICCID and
// nothing else, a random serial, TLS client authentication only, not a
// CA, valid from a little before now for validity (never past the CA).
func (ca *CA) sign(ctx context.Context, iccid string, pub crypto.PublicKey, validity time.Duration) (certPEM, id string, err error) {
	serial, err := randomSerial()
	if err != nil {
		return "", "", err
	}
	now := time.Now().UTC().Add(-clockSkew)
	notAfter := now.Add(validity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter // a device certificate never outlives its CA
	}
	usage := x509.KeyUsageDigitalSignature
	if _, ok := pub.(*rsa.PublicKey); ok {
		usage |= x509.KeyUsageKeyEncipherment
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: iccid},
		NotBefore:             now,
		NotAfter:              notAfter,
		KeyUsage:              usage,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.signer.WithContext(ctx))
	if err != nil {
		return "", "", fmt.Errorf("sign certificate of %s: %w", iccid, err)
	}
	return encodeCert(der), CertificateID(der), nil
}

// CertificateID is the IoT certificate id of a DER certificate.
func CertificateID(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// ParseCertificate decodes one PEM certificate.
func ParseCertificate(certPEM string) (*x509.Certificate, error) {
	block, _ := pem.Decode([]byte(certPEM))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

func newKey(t KeyType) (crypto.Signer, error) {
	switch t {
	case KeyRSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case KeyECP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, fmt.Errorf("device key type %q: want %s or %s", t, KeyRSA2048, KeyECP256)
	}
}

// encodeKey writes RSA keys as PKCS#1 ("RSA PRIVATE KEY", what
// CreateKeysAndCertificate answers) and EC keys as SEC 1 ("EC PRIVATE KEY").
func encodeKey(key crypto.Signer) (string, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})), nil
	case *ecdsa.PrivateKey:
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return "", fmt.Errorf("encode EC key: %w", err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})), nil
	default:
		return "", fmt.Errorf("unsupported key %T", key)
	}
}

func encodeCert(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// randomSerial is a positive 128-bit serial (RFC 5280 allows 20 octets).
func randomSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("certificate serial: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

func samePublicKey(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}
