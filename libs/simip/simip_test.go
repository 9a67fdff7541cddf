package simip_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/simbridge/simbridge/libs/simip"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		wantErr        string // part of the error message; "" means valid
	}{
		{name: "dotted IPv4", in: "10.1.2.3", want: "10.1.2.3"},
		{name: "loopback (local SIM simulator)", in: "127.0.0.5", want: "127.0.0.5"},
		{name: "edge octets", in: "100.255.0.254", want: "100.255.0.254"},
		{name: "IPv4-mapped IPv6", in: "::ffff:10.1.2.3", want: "10.1.2.3"},
		{name: "IPv4-mapped IPv6 in hex", in: "::ffff:a01:203", want: "10.1.2.3"},
		{name: "IPv4-mapped IPv6 in upper case, long form", in: "0:0:0:0:0:FFFF:0A01:0203", want: "10.1.2.3"},
		{name: "empty", in: "", wantErr: "empty"},
		{name: "leading space", in: " 10.1.2.3", wantErr: "whitespace"},
		{name: "trailing newline", in: "10.1.2.3\n", wantErr: "whitespace"},
		{name: "octet out of range", in: "10.0.0.300", wantErr: "10.0.0.300"},
		{name: "first octet out of range", in: "999.1.2.3", wantErr: "999.1.2.3"},
		{name: "zero-padded octet (octal?)", in: "10.01.2.3", wantErr: "10.01.2.3"},
		{name: "three octets", in: "10.1.2", wantErr: "10.1.2"},
		{name: "not an address", in: "ten", wantErr: "ten"},
		{name: "port", in: "10.1.2.3:80", wantErr: "port"},
		{name: "bracketed", in: "[::ffff:10.1.2.3]", wantErr: "brackets"},
		{name: "plain IPv6", in: "2001:db8::5", wantErr: "IPv6"},
		{name: "IPv4-compatible IPv6 (deprecated)", in: "::10.1.2.3", wantErr: "IPv6"},
		{name: "NAT64 IPv6", in: "64:ff9b::10.1.2.3", wantErr: "IPv6"},
		{name: "IPv6 loopback", in: "::1", wantErr: "IPv6"},
		{name: "zone", in: "::ffff:10.1.2.3%eth0", wantErr: "zone"},
		{name: "unspecified", in: "0.0.0.0", wantErr: "unicast"},
		{name: "mapped unspecified", in: "::ffff:0.0.0.0", wantErr: "unicast"},
		{name: "multicast", in: "224.0.0.1", wantErr: "unicast"},
		{name: "broadcast", in: "255.255.255.255", wantErr: "unicast"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := simip.Normalize(tc.in)
			if tc.wantErr == "" {
				if err != nil || got != tc.want {
					t.Fatalf("Normalize(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
				}
				if !simip.IsCanonical(got) {
					t.Errorf("IsCanonical(%q) = false for Normalize's own output", got)
				}
				return
			}
			if !errors.Is(err, simip.ErrInvalid) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Normalize(%q) = %q, %v; want an ErrInvalid mentioning %q", tc.in, got, err, tc.wantErr)
			}
			if got != "" || simip.IsCanonical(tc.in) {
				t.Errorf("an invalid address must yield nothing and not be canonical")
			}
		})
	}
}

func TestParseReturnsIPv4(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"10.1.2.3", "::ffff:10.1.2.3"} {
		addr, err := simip.Parse(in)
		if err != nil || !addr.Is4() || addr.String() != "10.1.2.3" {
			t.Errorf("Parse(%q) = %v (Is4 %v), %v; want the IPv4 address 10.1.2.3", in, addr, addr.Is4(), err)
		}
	}
}

func TestIsCanonical(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want bool
	}{
		{"10.1.2.3", true},
		{"::ffff:10.1.2.3", false},
		{"2001:db8::5", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := simip.IsCanonical(tc.in); got != tc.want {
			t.Errorf("IsCanonical(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
