// Command device is a device's side of onboarding, through the gateway from
// the SIM's IP. By default it fetches the credentials (the reference's
// flow), checks that certificate and key match, and prints the ICCID and
// the certificate id (never the key). With -enrol it makes its own key
// (ECDSA P-256, never sent), enrols with a certificate signing request,
// checks the certificate is for its key, proves it in a TLS handshake with
// client-certificate authentication, and stores certificate and key.
package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/simbridge/simbridge/libs/cli"
	"github.com/simbridge/simbridge/tools/device"
)

func main() { os.Exit(cli.Command("device", run)) }

type options struct {
	url, certURL, source, out string
	timeout, wait             time.Duration
	enrol                     bool
	tlsAddr, tlsCA            string
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	var o options
	fs := flag.NewFlagSet("device", flag.ContinueOnError)
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080/device-api/onboarding", "onboarding URL served by vpn-gateway")
	fs.StringVar(&o.certURL, "certificate-url", "", "enrolment URL (default: -url's host with /device-api/certificate)")
	fs.StringVar(&o.source, "source-ip", "", "SIM IP to send from (e.g. 127.0.0.2)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "request timeout")
	fs.DurationVar(&o.wait, "wait", 0, "keep retrying this long while the answer is not 200 (provisioning may still run)")
	fs.StringVar(&o.out, "out", "", "directory to save certificate.pem and private.key (0600) in")
	fs.BoolVar(&o.enrol, "enrol", false, "make the key here (ECDSA P-256) and enrol with a CSR instead of fetching a key")
	fs.StringVar(&o.tlsAddr, "tls-addr", "", "with -enrol: host:port to prove the certificate in a TLS handshake (default: the IoT endpoint, port 8883; \"none\" skips it)")
	fs.StringVar(&o.tlsCA, "tls-ca", "", "with -enrol: PEM file of the CA the TLS server's certificate chains to (default: the system's, which hold Amazon Root CA 1)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := device.New(o.url, o.source, o.timeout)
	if err != nil {
		return err
	}
	if o.enrol {
		return enrol(ctx, c, o, stdout)
	}
	creds, err := fetch(ctx, c, o.wait)
	if err != nil {
		return err
	}
	id, err := device.Verify(creds.Certificate, creds.PrivateKey)
	if err != nil {
		return err
	}
	if o.out != "" {
		if err := save(o.out, creds.Certificate, creds.PrivateKey); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "iccid=%s certificate_id=%s iot_endpoint=%s key_matches_certificate=true\n", creds.ICCID, id, creds.IoTCoreEndpointURL)
	return nil
}

// enrol makes the key, enrols, checks and proves the certificate.
func enrol(ctx context.Context, c *device.Client, o options, stdout io.Writer) error {
	key, err := device.NewKey()
	if err != nil {
		return err
	}
	csr, err := device.NewCSR(key)
	if err != nil {
		return err
	}
	certURL := o.certURL
	if certURL == "" {
		certURL = strings.Replace(o.url, "/device-api/onboarding", "/device-api/certificate", 1)
	}
	e, err := c.EnrolUntil(ctx, certURL, csr, o.wait)
	if err != nil {
		return err
	}
	keyPEM, err := device.KeyPEM(key)
	if err != nil {
		return err
	}
	id, err := device.Verify(e.Certificate, keyPEM)
	if err != nil {
		return fmt.Errorf("the certificate is not for this device's key: %w", err)
	}
	if o.out != "" {
		if err := save(o.out, e.Certificate, keyPEM); err != nil {
			return err
		}
	}
	tls := "skipped"
	if o.tlsAddr != "none" {
		addr := o.tlsAddr
		if addr == "" {
			addr = net.JoinHostPort(e.IoTCoreEndpointURL, "8883")
		}
		roots, err := serverCAs(o.tlsCA)
		if err != nil {
			return err
		}
		line, err := device.Handshake(ctx, addr, roots, e.Certificate, key)
		if err != nil {
			return err
		}
		tls = "ok (" + strings.TrimSpace(line) + ")"
	}
	fmt.Fprintf(stdout, "iccid=%s certificate_id=%s iot_endpoint=%s key=ecdsa-p256-made-here-never-sent tls_handshake=%s\n",
		e.ICCID, id, e.IoTCoreEndpointURL, strings.ReplaceAll(tls, " ", "_"))
	return nil
}

// serverCAs is the pool the TLS server's certificate must chain to: the
// file's, or nil for the system's.
func serverCAs(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, errors.New("-tls-ca holds no PEM certificate")
	}
	return pool, nil
}

func fetch(ctx context.Context, c *device.Client, wait time.Duration) (device.Credentials, error) {
	deadline := time.Now().Add(wait)
	for {
		creds, err := c.Fetch(ctx, nil)
		if err == nil || time.Now().After(deadline) {
			return creds, err
		}
		select {
		case <-ctx.Done():
			return creds, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func save(dir, certPEM, keyPEM string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "certificate.pem"), []byte(certPEM), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "private.key"), []byte(keyPEM), 0o600)
}
