package device

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Enrolled is the enrolment answer (JSON form): the device's certificate,
// never a private key.
type Enrolled struct {
	AmazonRootCaURL    string `json:"amazonRootCaUrl"`
	Certificate        string `json:"certificate"`
	CertificateID      string `json:"certificateId"`
	ICCID              string `json:"iccid"`
	IoTCoreEndpointURL string `json:"iotCoreEndpointUrl"`
}

// NewKey makes the device's key, ECDSA P-256, here: it never leaves the
// device (a modem or secure element would make it inside).
func NewKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// NewCSR is a PKCS#10 request for key, in PEM. The subject is only a hint:
// the CA sets the certificate's subject (CN = the ICCID) itself.
func NewCSR(key crypto.Signer) ([]byte, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "device"}}, key)
	if err != nil {
		return nil, fmt.Errorf("certificate signing request: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// KeyPEM is key as SEC 1 PEM, for the device's own storage.
func KeyPEM(key *ecdsa.PrivateKey) (string, error) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})), nil
}

// PendingError is a 202: the certificate is still being made; the same
// request is to be sent again after RetryAfter.
type PendingError struct{ RetryAfter time.Duration }

func (e *PendingError) Error() string {
	return fmt.Sprintf("enrolment in progress: ask again in %v", e.RetryAfter)
}

// Enrol sends the request to url (the gateway's enrolment path) once.
// A 202 is a *PendingError, any other non-200 a *StatusError (a 429 also
// carries its Retry-After in the body's message).
func (c *Client) Enrol(ctx context.Context, url string, csr []byte) (Enrolled, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(csr))
	if err != nil {
		return Enrolled{}, err
	}
	req.Header.Set("Content-Type", "application/pkcs10")
	resp, body, err := c.do(req)
	if err != nil {
		return Enrolled{}, fmt.Errorf("enrol: %w", err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusAccepted:
		return Enrolled{}, &PendingError{RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	default:
		return Enrolled{}, statusError(resp, body)
	}
	var e Enrolled
	if err := json.Unmarshal(body, &e); err != nil {
		return Enrolled{}, fmt.Errorf("decode answer: %w", err)
	}
	return e, nil
}

// retryAfter reads a Retry-After in seconds (0 when absent).
func retryAfter(v string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// EnrolUntil sends the same request until it gets the certificate: again
// after each 202's Retry-After, and while wait lasts after a 404 (the SIM
// is still being provisioned) or a transport error. Other answers end it.
func (c *Client) EnrolUntil(ctx context.Context, url string, csr []byte, wait time.Duration) (Enrolled, error) {
	deadline := time.Now().Add(wait)
	for {
		e, err := c.Enrol(ctx, url, csr)
		var pending *PendingError
		var se *StatusError
		pause := time.Second
		switch {
		case err == nil:
			return e, nil
		case errors.As(err, &pending):
			pause = max(pending.RetryAfter, 100*time.Millisecond)
		case errors.As(err, &se) && se.Code != http.StatusNotFound:
			return e, err
		}
		if time.Now().Add(pause).After(deadline) {
			return e, err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return e, ctx.Err()
		case <-t.C:
		}
	}
}

// Handshake proves a certificate works: a TLS connection to addr (IoT
// Core's endpoint, port 8883, or a stand-in) presenting certPEM with key,
// trusting serverCAs (nil: the system's, which hold Amazon Root CA 1). The
// server's verdict on the client certificate arrives after the handshake
// under TLS 1.3, so the first line it sends is read too; it is returned.
func Handshake(ctx context.Context, addr string, serverCAs *x509.CertPool, certPEM string, key crypto.Signer) (string, error) {
	block, _ := pem.Decode([]byte(certPEM))
	if block == nil {
		return "", errors.New("certificate is not PEM")
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	d := tls.Dialer{Config: &tls.Config{RootCAs: serverCAs, ServerName: host, MinVersion: tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{block.Bytes}, PrivateKey: key}}}}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("TLS handshake with %s: %w", addr, err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := readLine(conn)
	if err != nil {
		return "", fmt.Errorf("TLS with %s: the server refused the certificate: %w", addr, err)
	}
	return line, nil
}

func readLine(r io.Reader) (string, error) {
	var b strings.Builder
	buf := make([]byte, 1)
	for b.Len() < 256 {
		if _, err := r.Read(buf); err != nil {
			return b.String(), err
		}
		if buf[0] == '\n' {
			return b.String(), nil
		}
		b.WriteByte(buf[0])
	}
	return b.String(), nil
}
