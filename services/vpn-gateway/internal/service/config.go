// Package service is vpn-gateway's composition root.
package service

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/simbridge/simbridge/libs/deviceapi"
	"github.com/simbridge/simbridge/libs/secrets"
)

// Tunnel modes.
const (
	// TunnelOpenVPN runs the OpenVPN client and listens on its address (production).
	TunnelOpenVPN = "openvpn"
	// TunnelNone listens on LISTEN_ADDR as given (local runs, tests).
	TunnelNone = "none"
)

// Config is vpn-gateway's configuration, read from the environment.
type Config struct {
	// ListenAddr is the device-facing plain HTTP address. With the tunnel
	// only its port is used (the host is the tunnel address).
	ListenAddr string `env:"LISTEN_ADDR, default=:8080" desc:"device-facing HTTP address; with the tunnel give only the port"`
	// TLSListenAddr, when set, adds an HTTPS listener (same rule).
	TLSListenAddr string `env:"TLS_LISTEN_ADDR" desc:"HTTPS address as well (same rule; needs TLS_CERT_*)"`
	// TLSCert is a PEM bundle (certificate chain and private key), from
	// Secrets Manager in AWS so a replacement task serves the same certificate.
	TLSCert         secrets.Source `env:", prefix=TLS_CERT_" desc:"PEM bundle of the HTTPS certificate chain and key"`
	TLSRefresh      time.Duration  `env:"TLS_REFRESH, default=1h" desc:"how often the certificate is re-read"`
	OpsAddr         string         `env:"OPS_ADDR, default=:9090" desc:"/metrics, /healthz and /readyz (never on the public port)"`
	ShutdownTimeout time.Duration  `env:"SHUTDOWN_TIMEOUT, default=25s" desc:"time in-flight work may take after SIGTERM (ECS stops after 30 s)"`
	// GCPercent is the Go runtime's GOGC: the live heap is a few MB, so
	// collecting at 400 % growth costs little memory and saves the CPU a
	// busy onboarding burst would otherwise spend in the garbage collector.
	GCPercent int `env:"GOGC, default=400" desc:"Go GC target percentage (small heap: saves CPU under load)"`

	// UpstreamURL is onboarding-api's base URL.
	UpstreamURL     string        `env:"UPSTREAM_URL, required" desc:"onboarding-api base URL"`
	UpstreamTimeout time.Duration `env:"UPSTREAM_TIMEOUT, default=10s" desc:"wait for onboarding-api's answer"`
	// Contract is what onboarding-api must match: paths, headers, API key.
	deviceapi.Contract

	Limits Limits
	Tunnel Tunnel
}

// Limits protect the gateway and onboarding-api from floods and slow clients.
// MaxHeaderBytes is the request line plus header fields ("Name: value"
// lines) a device may send, 431 beyond, on the HTTP and HTTPS listeners;
// MaxBodyBytes the body, 413 beyond, however it is framed.
type Limits struct {
	RatePerIP         float64       `env:"RATE_LIMIT, default=5" desc:"requests per second per device IP (429 beyond)"`
	BurstPerIP        int           `env:"RATE_BURST, default=20" desc:"burst of requests per device IP"`
	MaxConcurrent     int           `env:"MAX_CONCURRENT, default=1024" desc:"requests in flight (503 beyond)"`
	MaxHeaderBytes    int           `env:"MAX_HEADER_BYTES, default=8192" desc:"largest request header (431 beyond)"`
	MaxBodyBytes      int64         `env:"MAX_BODY_BYTES, default=1024" desc:"largest request body of the onboarding GET (413 beyond); enrolments take CSR_MAX_BYTES"`
	ReadHeaderTimeout time.Duration `env:"READ_HEADER_TIMEOUT, default=5s" desc:"slow clients: time to send the request header"`
	ReadTimeout       time.Duration `env:"READ_TIMEOUT, default=10s" desc:"slow clients: time to send the whole request"`
	WriteTimeout      time.Duration `env:"WRITE_TIMEOUT, default=30s" desc:"slow clients: time to take the whole answer"`
	IdleTimeout       time.Duration `env:"IDLE_TIMEOUT, default=60s" desc:"keep-alive connections without a request are closed after this"`
}

// Tunnel configures the OpenVPN client and what the gateway announces.
type Tunnel struct {
	Mode string `env:"TUNNEL_MODE, default=openvpn" desc:"openvpn (listen on the tunnel address) or none (listen on LISTEN_ADDR)"`
	// OpenVPNConfig is the client configuration of the breakout region.
	OpenVPNConfig secrets.Source `env:", prefix=OPENVPN_CONFIG_" desc:"OpenVPN client configuration of the 1NCE breakout region (required with the tunnel)"`
	// OpenVPNAuth is "username\npassword" when the configuration uses auth-user-pass.
	OpenVPNAuth   secrets.Source `env:", prefix=OPENVPN_AUTH_" desc:"username and password lines for auth-user-pass"`
	OpenVPNBinary string         `env:"OPENVPN_BINARY, default=openvpn" desc:"OpenVPN executable"`
	Device        string         `env:"TUNNEL_DEVICE, default=tun-onboard" desc:"tun interface name (at most 15 characters)"`
	UpTimeout     time.Duration  `env:"TUNNEL_UP_TIMEOUT, default=120s" desc:"wait for the tunnel address"`
	MaxBackoff    time.Duration  `env:"TUNNEL_MAX_BACKOFF, default=1m" desc:"longest wait between OpenVPN restarts"`
	// EndpointParameter is the SSM parameter receiving host:port/path once
	// the tunnel is up; empty disables publication.
	EndpointParameter string `env:"ENDPOINT_PARAMETER, default=openvpn-onboarding-proxy-server" desc:"SSM parameter receiving the device-facing endpoint (empty: none)"`
	SuccessTopicARN   string `env:"SUCCESS_TOPIC_ARN" desc:"SNS topic of tunnel success notifications (empty: none)"`
	FailureTopicARN   string `env:"FAILURE_TOPIC_ARN" desc:"SNS topic of tunnel failure notifications (empty: none)"`
}

// Validate rejects settings that cannot work.
func (c *Config) Validate() error {
	errs := []error{c.Contract.Validate(), c.validateUpstream(), c.Limits.validate(), c.Tunnel.validate(c)}
	if optionalSet(c.TLSCert) != (c.TLSListenAddr != "") {
		errs = append(errs, errors.New("TLS_LISTEN_ADDR and one of TLS_CERT_SECRET_ID, TLS_CERT_FILE, TLS_CERT_VALUE go together"))
	} else if c.TLSListenAddr != "" {
		errs = append(errs, c.TLSCert.Validate("TLS_CERT_"))
	}
	if c.ShutdownTimeout <= 0 || c.TLSRefresh < time.Second {
		errs = append(errs, errors.New("SHUTDOWN_TIMEOUT must be positive, TLS_REFRESH at least 1s"))
	}
	return errors.Join(errs...)
}

func (c *Config) validateUpstream() error {
	if u, err := url.Parse(c.UpstreamURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("UPSTREAM_URL %q: want http(s)://host:port", c.UpstreamURL)
	}
	if c.UpstreamTimeout < c.EnrolWait+time.Second {
		return fmt.Errorf("UPSTREAM_TIMEOUT %v must exceed ENROL_WAIT %v by a second: onboarding-api waits that long for an enrolment", c.UpstreamTimeout, c.EnrolWait)
	}
	return nil
}

func (l Limits) validate() error {
	if l.RatePerIP <= 0 || l.BurstPerIP < 1 || l.MaxConcurrent < 1 || l.MaxHeaderBytes < 1024 || l.MaxBodyBytes < 0 {
		return errors.New("RATE_LIMIT, RATE_BURST, MAX_CONCURRENT must be positive, MAX_HEADER_BYTES at least 1024, MAX_BODY_BYTES not negative")
	}
	for _, d := range []time.Duration{l.ReadHeaderTimeout, l.ReadTimeout, l.WriteTimeout, l.IdleTimeout} {
		if d <= 0 {
			return errors.New("READ_HEADER_TIMEOUT, READ_TIMEOUT, WRITE_TIMEOUT and IDLE_TIMEOUT must be positive")
		}
	}
	return nil
}

func (t Tunnel) validate(c *Config) error {
	switch t.Mode {
	case TunnelNone:
		return nil
	case TunnelOpenVPN:
	default:
		return fmt.Errorf("TUNNEL_MODE %q: want %s or %s", t.Mode, TunnelOpenVPN, TunnelNone)
	}
	errs := []error{t.OpenVPNConfig.Validate("OPENVPN_CONFIG_")}
	if optionalSet(t.OpenVPNAuth) {
		errs = append(errs, t.OpenVPNAuth.Validate("OPENVPN_AUTH_"))
	}
	for _, addr := range []string{c.ListenAddr, c.TLSListenAddr} {
		if host, _, err := net.SplitHostPort(addr); addr != "" && (err != nil || host != "") {
			errs = append(errs, fmt.Errorf("listen address %q: with the tunnel give only the port (\":8080\")", addr))
		}
	}
	if t.Device == "" || len(t.Device) > 15 || t.UpTimeout <= 0 || t.MaxBackoff <= 0 {
		errs = append(errs, errors.New("TUNNEL_DEVICE (1-15 characters), TUNNEL_UP_TIMEOUT and TUNNEL_MAX_BACKOFF are required"))
	}
	return errors.Join(errs...)
}

// optionalSet reports whether any source of an optional secret is given.
func optionalSet(s secrets.Source) bool { return s.SecretID != "" || s.File != "" || s.Value.IsSet() }
