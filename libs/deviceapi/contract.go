// Package deviceapi is the contract between vpn-gateway and onboarding-api:
// the onboarding and enrolment paths, the header carrying the device IP,
// the API-key header and where the shared key comes from, the largest
// certificate signing request and how long an enrolment is waited for. Both services embed Contract
// in their configuration, so the two sides read the same settings with the
// same defaults and the same validation.
package deviceapi

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/secrets"
)

// Contract is the configuration vpn-gateway and onboarding-api must agree on.
type Contract struct {
	// APIKey is the key the gateway presents (Secrets Manager in AWS).
	APIKey secrets.Source `env:", prefix=API_KEY_" desc:"API key vpn-gateway presents to onboarding-api (exactly one source)"`
	// APIKeyRefresh is how often the key is re-read, so a rotation is picked
	// up without a restart.
	APIKeyRefresh time.Duration `env:"API_KEY_REFRESH, default=1m" desc:"how often the key versions are re-read (rotation without restart)"`
	APIKeyHeader  string        `env:"API_KEY_HEADER, default=x-api-key" desc:"header carrying the API key"`
	// DeviceIPHeader carries the device IP the gateway took from the TCP peer.
	DeviceIPHeader string `env:"DEVICE_IP_HEADER, default=onboarding-ip" desc:"header carrying the device IP (set by the gateway only)"`
	// Paths are the onboarding paths: the Device API path first, then aliases.
	Paths []string `env:"ONBOARDING_PATHS, default=/device-api/onboarding" desc:"comma-separated onboarding paths: the canonical one first, then aliases"`
	// CertificatePaths take a device's certificate signing request (POST):
	// enrolment, the key born on the device.
	CertificatePaths []string `env:"CERTIFICATE_PATHS, default=/device-api/certificate" desc:"comma-separated enrolment paths (POST a CSR): the canonical one first, then aliases"`
	// CSRMaxBytes bounds an enrolment's body on both sides: the gateway
	// refuses more (413) before onboarding-api reads it.
	CSRMaxBytes int64 `env:"CSR_MAX_BYTES, default=8192" desc:"largest enrolment body (a CSR in PEM or DER; 413 beyond)"`
	// EnrolWait is how long onboarding-api waits for an enrolment's
	// certificate before it answers 202 (POST the same CSR again); the
	// gateway's UPSTREAM_TIMEOUT must leave room for it.
	EnrolWait time.Duration `env:"ENROL_WAIT, default=8s" desc:"how long an enrolment request waits for its certificate before 202 (the device POSTs the same CSR again)"`
}

// Validate rejects a contract that cannot work.
func (c Contract) Validate() error {
	errs := []error{c.APIKey.Validate("API_KEY_")}
	if len(c.Paths) == 0 {
		errs = append(errs, errors.New("ONBOARDING_PATHS: at least one path"))
	}
	if len(c.CertificatePaths) == 0 {
		errs = append(errs, errors.New("CERTIFICATE_PATHS: at least one path"))
	}
	seen := map[string]bool{}
	for _, p := range append(append([]string(nil), c.Paths...), c.CertificatePaths...) {
		if !strings.HasPrefix(p, "/") {
			errs = append(errs, fmt.Errorf("ONBOARDING_PATHS, CERTIFICATE_PATHS: %q must start with /", p))
		}
		if seen[p] {
			errs = append(errs, fmt.Errorf("ONBOARDING_PATHS, CERTIFICATE_PATHS: %q given twice", p))
		}
		seen[p] = true
	}
	if c.CSRMaxBytes < 1024 || c.CSRMaxBytes > events.MaxCSRBytes {
		errs = append(errs, fmt.Errorf("CSR_MAX_BYTES %d: 1024 to %d (the largest CSR an enrol command carries)", c.CSRMaxBytes, events.MaxCSRBytes))
	}
	if c.EnrolWait < time.Second || c.EnrolWait > time.Minute {
		errs = append(errs, fmt.Errorf("ENROL_WAIT %v: 1s to 1m", c.EnrolWait))
	}
	if c.APIKeyRefresh < time.Second {
		errs = append(errs, errors.New("API_KEY_REFRESH must be at least 1s"))
	}
	if c.APIKeyHeader == "" || c.DeviceIPHeader == "" {
		errs = append(errs, errors.New("API_KEY_HEADER and DEVICE_IP_HEADER must not be empty"))
	}
	return errors.Join(errs...)
}
