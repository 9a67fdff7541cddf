package testkit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"testing"
)

// CSRKind is a certificate signing request a test device sends: the keys
// the CA certifies and the ones it must refuse.
type CSRKind string

// Requests tests send.
const (
	CSRP256    CSRKind = "ECDSA P-256"
	CSRRSA2048 CSRKind = "RSA-2048"
	CSRRSA1024 CSRKind = "RSA-1024 (weak)"
	CSRP384    CSRKind = "ECDSA P-384 (wrong type)"
	CSREd25519 CSRKind = "Ed25519 (wrong type)"
	// CSRBadSignature is a P-256 request whose signature was altered: it
	// does not prove possession of the key.
	CSRBadSignature CSRKind = "P-256 with a broken signature"
)

// NewCSR returns the DER of a fresh request of kind, asking for far more
// than the CA grants (another CN, a CA certificate, server
// authentication), and its private key.
func NewCSR(t testing.TB, kind CSRKind) ([]byte, crypto.Signer) {
	t.Helper()
	var key crypto.Signer
	var err error
	switch kind {
	case CSRP256, CSRBadSignature:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case CSRP384:
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case CSRRSA2048:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case CSRRSA1024:
		key, err = rsa.GenerateKey(rand.Reader, 1024)
	case CSREd25519:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("unknown CSR kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	der, err := CSRFor(key)
	if err != nil {
		t.Fatal(err)
	}
	if kind == CSRBadSignature {
		der[len(der)-3] ^= 0x55 // inside the signature's last bytes
	}
	return der, key
}

// CSRFor makes a request signed by key that asks for what a greedy device
// might: a subject of its own, basic constraints CA:TRUE and server
// authentication. The CA must ignore all of it.
func CSRFor(key crypto.Signer) ([]byte, error) {
	isCA, err := asn1.Marshal(struct {
		IsCA bool `asn1:"optional"`
	}{IsCA: true})
	if err != nil {
		return nil, err
	}
	serverAuth, err := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 1}})
	if err != nil {
		return nil, err
	}
	return x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: "not-the-iccid", Organization: []string{"Greedy Devices"}},
		DNSNames: []string{"iot.example.com"},
		ExtraExtensions: []pkix.Extension{
			{Id: asn1.ObjectIdentifier{2, 5, 29, 19}, Critical: true, Value: isCA}, // basicConstraints
			{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Value: serverAuth},           // extKeyUsage
		},
	}, key)
}

// CSRPEM is der as a PEM block.
func CSRPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}
