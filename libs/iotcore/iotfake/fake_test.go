package iotfake_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/simbridge/simbridge/libs/iotcore/iotcoretest"
	"github.com/simbridge/simbridge/libs/iotcore/iotfake"
)

var names atomic.Int64

// The fake passes the contract libs/iotcore passes on the emulator.
func TestFakeContract(t *testing.T) {
	t.Parallel()
	iotcoretest.Run(t, func(t *testing.T) iotcoretest.Subject {
		f := iotfake.New()
		return iotcoretest.Subject{
			IoT: f, Policy: "policy", ThingType: "sim",
			Name:    func(*testing.T) string { return fmt.Sprintf("thing-%d", names.Add(1)) },
			Status:  func(_ *testing.T, id string) types.CertificateStatus { return f.Status(id) },
			Foreign: func(_ *testing.T, name string) { f.ForeignThing(name) },
			Issue: func(t *testing.T) (string, string, string) {
				key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				tmpl := &x509.Certificate{SerialNumber: big.NewInt(names.Add(1)), Subject: pkix.Name{CommonName: "d"}, NotAfter: time.Now().Add(time.Hour)}
				der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
				if err != nil {
					t.Fatal(err)
				}
				sum := sha256.Sum256(der)
				return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), "CA", hex.EncodeToString(sum[:])
			},
		}
	})
}
