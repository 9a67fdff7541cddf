// Package device is a device's side of onboarding: one HTTP GET through the
// gateway from the SIM's own IP, then a check that the certificate and
// private key belong together; or enrolment (enrol.go): a key made here,
// its certificate signing request POSTed the same way, and a TLS handshake
// with the certificate. The device client command and the end-to-end
// tests use it.
package device

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Credentials is the onboarding answer (JSON form).
type Credentials struct {
	AmazonRootCaURL    string `json:"amazonRootCaUrl"`
	Certificate        string `json:"certificate"`
	PrivateKey         string `json:"privateKey"`
	ICCID              string `json:"iccid"`
	IoTCoreEndpointURL string `json:"iotCoreEndpointUrl"`
}

// StatusError is a non-200 answer.
type StatusError struct {
	Code int
	Body string
	// RetryAfter is the answer's Retry-After (a 429's), 0 without one.
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("onboarding answered %d: %s", e.Code, e.Body)
}

// Client fetches credentials as the device with a given SIM IP.
type Client struct {
	http *http.Client
	url  string
}

// New returns a client whose connections leave from sourceIP (empty: any),
// the way a device's requests leave its tunnel with its SIM's address.
func New(url, sourceIP string, timeout time.Duration) (*Client, error) {
	d := &net.Dialer{Timeout: timeout}
	if sourceIP != "" {
		ip := net.ParseIP(sourceIP)
		if ip == nil {
			return nil, fmt.Errorf("source IP %q is not an IP address", sourceIP)
		}
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	tr := &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}
	return &Client{http: &http.Client{Transport: tr, Timeout: timeout}, url: url}, nil
}

// Fetch asks for the credentials; header adds request headers (tests use it
// to send spoofing attempts).
func (c *Client) Fetch(ctx context.Context, header http.Header) (Credentials, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return Credentials{}, err
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, body, err := c.do(req)
	if err != nil {
		return Credentials{}, fmt.Errorf("fetch credentials: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Credentials{}, statusError(resp, body)
	}
	var creds Credentials
	if err := json.Unmarshal(body, &creds); err != nil {
		return Credentials{}, fmt.Errorf("decode answer: %w", err)
	}
	return creds, nil
}

// do sends req and reads the answer (up to 1 MiB).
func (c *Client) do(req *http.Request) (*http.Response, []byte, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("read answer: %w", err)
	}
	return resp, body, nil
}

// statusError is a non-200 answer as an error, with its Retry-After.
func statusError(resp *http.Response, body []byte) *StatusError {
	return &StatusError{Code: resp.StatusCode, Body: string(body), RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}
}

// Verify checks that the certificate's public key is the private key's and
// returns the certificate id as AWS IoT computes it (SHA-256 of the DER).
func Verify(certPEM, keyPEM string) (string, error) {
	cb, _ := pem.Decode([]byte(certPEM))
	if cb == nil {
		return "", errors.New("certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return "", fmt.Errorf("parse certificate: %w", err)
	}
	kb, _ := pem.Decode([]byte(keyPEM))
	if kb == nil {
		return "", errors.New("private key is not PEM")
	}
	key, err := parseKey(kb.Bytes)
	if err != nil {
		return "", err
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return "", errors.New("certificate does not match the private key")
	}
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:]), nil
}

func parseKey(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("private key cannot sign")
	}
	return s, nil
}
