package service_test

import (
	"context"
	"strings"
	"testing"

	"github.com/simbridge/simbridge/libs/config"
	"github.com/simbridge/simbridge/services/vpn-gateway/internal/service"
)

func TestConfig(t *testing.T) {
	t.Parallel()
	env := func(kv ...string) map[string]string {
		m := map[string]string{"UPSTREAM_URL": "http://127.0.0.1:1", "API_KEY_VALUE": "k", "OPENVPN_CONFIG_FILE": "/etc/client.conf"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"tunnel by default", env(), ""},
		{"tunnel without OpenVPN configuration", env("OPENVPN_CONFIG_FILE", ""), "OPENVPN_CONFIG_"},
		{"tunnel with a host in LISTEN_ADDR", env("LISTEN_ADDR", "127.0.0.1:8080"), "only the port"},
		{"tunnel with credentials", env("OPENVPN_AUTH_SECRET_ID", "vpn-auth"), ""},
		{"local mode on an address", env("TUNNEL_MODE", "none", "OPENVPN_CONFIG_FILE", "", "LISTEN_ADDR", "127.0.0.1:8080"), ""},
		{"unknown mode", env("TUNNEL_MODE", "wireguard"), "TUNNEL_MODE"},
		{"HTTPS without certificate", env("TLS_LISTEN_ADDR", ":8443"), "TLS_LISTEN_ADDR"},
		{"certificate without HTTPS", env("TLS_CERT_FILE", "/c.pem"), "TLS_LISTEN_ADDR"},
		{"HTTPS with certificate", env("TLS_LISTEN_ADDR", ":8443", "TLS_CERT_SECRET_ID", "gw-cert"), ""},
		{"device name too long", env("TUNNEL_DEVICE", "a-very-long-device-name"), "TUNNEL_DEVICE"},
		{"no rate", env("RATE_LIMIT", "0"), "RATE_LIMIT"},
		{"tiny header limit", env("MAX_HEADER_BYTES", "10"), "MAX_HEADER_BYTES"},
		{"no upstream", env("UPSTREAM_URL", "onboarding-api:8080"), "UPSTREAM_URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c service.Config
			err := config.LoadFrom(context.Background(), config.MapLookuper(tc.env), &c)
			if (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("got %v, want error %q", err, tc.wantErr)
			}
		})
	}
}
