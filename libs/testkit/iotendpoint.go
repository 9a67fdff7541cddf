package testkit

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// IoTEndpoint stands in for AWS IoT Core's device endpoint where the
// emulator has none: a TLS listener on loopback that authenticates devices
// the way IoT Core does with a CA registered in DEFAULT mode — the client
// must present a certificate that chains to the account's CA and that the
// IoT registry lists as ACTIVE at the moment of the handshake (a REVOKED or
// INACTIVE one is refused). An accepted device reads "accepted <CN>\n".
type IoTEndpoint struct {
	// Addr is host:port; ServerCAPEM is the CA a device must trust for the
	// endpoint's own certificate (IoT Core's would be Amazon Root CA 1).
	Addr        string
	ServerCAPEM string
	ln          net.Listener
	wg          sync.WaitGroup
	mu          sync.Mutex
	// seen are the handshakes' outcomes, "accepted <id>" or "refused <id>: why".
	seen []string
}

// CertificateStatus tells a certificate's status in the IoT registry by
// its id (the SHA-256 of its DER).
type CertificateStatus func(ctx context.Context, certID string) (iottypes.CertificateStatus, error)

// RegistryStatus reads certificate statuses from the account's IoT Core
// (the emulator).
func RegistryStatus(cfg aws.Config) CertificateStatus {
	api := iot.NewFromConfig(cfg)
	return func(ctx context.Context, id string) (iottypes.CertificateStatus, error) {
		d, err := api.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
		if err != nil {
			return "", err
		}
		return d.CertificateDescription.Status, nil
	}
}

// StartIoTEndpoint listens on a free loopback port until Close, trusting
// client certificates of deviceCAPEM whose status says ACTIVE.
func StartIoTEndpoint(deviceCAPEM string, status CertificateStatus) (*IoTEndpoint, error) {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(deviceCAPEM)) {
		return nil, errors.New("iot endpoint: the device CA is not PEM")
	}
	serverCert, caPEM, err := serverIdentity()
	if err != nil {
		return nil, err
	}
	e := &IoTEndpoint{ServerCAPEM: caPEM}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{serverCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    roots,
		MinVersion:   tls.VersionTLS12,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			sum := sha256.Sum256(raw[0])
			id := hex.EncodeToString(sum[:])
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			st, err := status(ctx, id)
			if err == nil && st != iottypes.CertificateStatusActive {
				err = fmt.Errorf("certificate %s is %s", id, st)
			}
			e.note(id, err)
			return err
		},
	}
	if e.ln, err = tls.Listen("tcp", "127.0.0.1:0", cfg); err != nil {
		return nil, err
	}
	e.Addr = e.ln.Addr().String()
	e.wg.Go(e.serve)
	return e, nil
}

func (e *IoTEndpoint) note(id string, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil {
		e.seen = append(e.seen, "refused "+id+": "+err.Error())
		return
	}
	e.seen = append(e.seen, "accepted "+id)
}

// Handshakes are the outcomes so far, in order.
func (e *IoTEndpoint) Handshakes() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.seen...)
}

func (e *IoTEndpoint) serve() {
	for {
		c, err := e.ln.Accept()
		if err != nil {
			return
		}
		e.wg.Go(func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			tc := c.(*tls.Conn)
			if err := tc.Handshake(); err != nil {
				return
			}
			cn := tc.ConnectionState().PeerCertificates[0].Subject.CommonName
			_, _ = fmt.Fprintf(tc, "accepted %s\n", cn)
		})
	}
}

// Close stops listening and waits for the connections in flight.
func (e *IoTEndpoint) Close() error {
	err := e.ln.Close()
	e.wg.Wait()
	return err
}

// serverIdentity is a throwaway CA and the endpoint's certificate for
// 127.0.0.1 and localhost, signed by it.
func serverIdentity() (tls.Certificate, string, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "IoT endpoint stand-in CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})), nil
}
