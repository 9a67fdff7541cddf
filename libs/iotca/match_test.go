package iotca_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/iotca"
)

// selfSigned is a certificate for a fresh EC key and that key in each of the
// three PEM encodings devices are given.
func selfSigned(t *testing.T) (certPEM string, keys map[string]string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "device"}, NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	sec1, _ := x509.MarshalECPrivateKey(key)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(key)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), map[string]string{
		"sec1":  string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})),
		"pkcs8": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})),
	}
}

func TestKeyMatches(t *testing.T) {
	t.Parallel()
	cert, keys := selfSigned(t)
	_, others := selfSigned(t)
	for name, key := range keys {
		if err := iotca.KeyMatches(cert, key); err != nil {
			t.Errorf("%s key of the certificate: %v", name, err)
		}
		if err := iotca.KeyMatches(cert, strings.ReplaceAll(key, "\n", "\r\n")); err != nil {
			t.Errorf("%s key with CRLF line endings: %v", name, err)
		}
	}
	if err := iotca.KeyMatches(cert, others["sec1"]); !errors.Is(err, iotca.ErrKeyMismatch) {
		t.Errorf("another key: want ErrKeyMismatch, got %v", err)
	}
	secret := "-----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END RSA PRIVATE KEY-----\n"
	for name, key := range map[string]string{"not PEM": "hello", "broken key": secret, "a certificate": cert} {
		err := iotca.KeyMatches(cert, key)
		if err == nil || errors.Is(err, iotca.ErrKeyMismatch) {
			t.Errorf("%s: want a parse error, got %v", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "c2VjcmV0") {
			t.Errorf("%s: the error quotes the key: %v", name, err)
		}
	}
	if err := iotca.KeyMatches("not a certificate", keys["sec1"]); err == nil {
		t.Error("a broken certificate matched")
	}
}
