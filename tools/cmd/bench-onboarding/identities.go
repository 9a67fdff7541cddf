package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	"github.com/simbridge/simbridge/tools/awsstub"
)

// keyPool bounds RSA key generation (slow) while every device still gets a
// certificate of its own, of the size AWS IoT issues (RSA 2048).
const keyPool = 8

// fleetIdentities gives every device IP a SIM with a certificate and key.
func fleetIdentities(ips []string) ([]awsstub.SIM, error) {
	keys := make([]*rsa.PrivateKey, keyPool)
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("generate key: %w", err)
		}
		keys[i] = k
	}
	sims := make([]awsstub.SIM, len(ips))
	for i, ip := range ips {
		key := keys[i%keyPool]
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 1)), Subject: pkix.Name{CommonName: "AWS IoT Certificate"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			return nil, fmt.Errorf("certificate: %w", err)
		}
		sims[i] = awsstub.SIM{
			ICCID: fmt.Sprintf("89882806660%08d", i+1), IP: ip,
			CertificatePEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
			PrivateKeyPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
		}
	}
	return sims, nil
}
