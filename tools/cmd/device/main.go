// Command device fetches a device's onboarding credentials through the
// gateway from the SIM's IP, checks that certificate and key match, and
// prints the ICCID and the certificate id (never the key).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/simbridge/simbridge/libs/cli"
	"github.com/simbridge/simbridge/tools/device"
)

func main() { os.Exit(cli.Command("device", run)) }

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("device", flag.ContinueOnError)
	url := fs.String("url", "http://127.0.0.1:8080/device-api/onboarding", "onboarding URL served by vpn-gateway")
	source := fs.String("source-ip", "", "SIM IP to send from (e.g. 127.0.0.2)")
	timeout := fs.Duration("timeout", 10*time.Second, "request timeout")
	wait := fs.Duration("wait", 0, "keep retrying this long while the answer is not 200 (provisioning may still run)")
	out := fs.String("out", "", "directory to save certificate.pem and private.key (0600) in")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := device.New(*url, *source, *timeout)
	if err != nil {
		return err
	}
	creds, err := fetch(ctx, c, *wait)
	if err != nil {
		return err
	}
	id, err := device.Verify(creds.Certificate, creds.PrivateKey)
	if err != nil {
		return err
	}
	if *out != "" {
		if err := save(*out, creds); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "iccid=%s certificate_id=%s iot_endpoint=%s key_matches_certificate=true\n", creds.ICCID, id, creds.IoTCoreEndpointURL)
	return nil
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

func save(dir string, c device.Credentials) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "certificate.pem"), []byte(c.Certificate), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "private.key"), []byte(c.PrivateKey), 0o600)
}
