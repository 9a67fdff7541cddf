package service_test

import (
	"testing"

	"github.com/simbridge/simbridge/libs/config/configtest"
	"github.com/simbridge/simbridge/services/vpn-gateway/internal/service"
)

func TestConfig(t *testing.T) {
	t.Parallel()
	base := map[string]string{"UPSTREAM_URL": "http://127.0.0.1:1", "API_KEY_VALUE": "k", "OPENVPN_CONFIG_FILE": "/etc/client.conf"}
	configtest.Run(t, base, []configtest.Case[service.Config]{
		{Name: "tunnel by default"},
		{Name: "tunnel without OpenVPN configuration", Set: configtest.Set("OPENVPN_CONFIG_FILE", ""), WantErr: []string{"OPENVPN_CONFIG_"}},
		{Name: "tunnel with a host in LISTEN_ADDR", Set: configtest.Set("LISTEN_ADDR", "127.0.0.1:8080"), WantErr: []string{"only the port"}},
		{Name: "tunnel with credentials", Set: configtest.Set("OPENVPN_AUTH_SECRET_ID", "vpn-auth")},
		{Name: "local mode on an address", Set: configtest.Set("TUNNEL_MODE", "none", "OPENVPN_CONFIG_FILE", "", "LISTEN_ADDR", "127.0.0.1:8080")},
		{Name: "unknown mode", Set: configtest.Set("TUNNEL_MODE", "wireguard"), WantErr: []string{"TUNNEL_MODE"}},
		{Name: "HTTPS without certificate", Set: configtest.Set("TLS_LISTEN_ADDR", ":8443"), WantErr: []string{"TLS_LISTEN_ADDR"}},
		{Name: "certificate without HTTPS", Set: configtest.Set("TLS_CERT_FILE", "/c.pem"), WantErr: []string{"TLS_LISTEN_ADDR"}},
		{Name: "HTTPS with certificate", Set: configtest.Set("TLS_LISTEN_ADDR", ":8443", "TLS_CERT_SECRET_ID", "gw-cert")},
		{Name: "device name too long", Set: configtest.Set("TUNNEL_DEVICE", "a-very-long-device-name"), WantErr: []string{"TUNNEL_DEVICE"}},
		{Name: "no rate", Set: configtest.Set("RATE_LIMIT", "0"), WantErr: []string{"RATE_LIMIT"}},
		{Name: "tiny header limit", Set: configtest.Set("MAX_HEADER_BYTES", "10"), WantErr: []string{"MAX_HEADER_BYTES"}},
		{Name: "no upstream", Set: configtest.Set("UPSTREAM_URL", "onboarding-api:8080"), WantErr: []string{"UPSTREAM_URL"}},
		{Name: "upstream timeout shorter than the enrolment wait", Set: configtest.Set("UPSTREAM_TIMEOUT", "5s"), WantErr: []string{"ENROL_WAIT"}},
		{Name: "upstream timeout with room for a shorter enrolment wait", Set: configtest.Set("UPSTREAM_TIMEOUT", "5s", "ENROL_WAIT", "3s")},
		{Name: "every problem at once", Set: configtest.Set("RATE_LIMIT", "0", "MAX_HEADER_BYTES", "10", "UPSTREAM_URL", ""),
			WantErr: []string{"RATE_LIMIT", "MAX_HEADER_BYTES", "UPSTREAM_URL"}},
	})
}
