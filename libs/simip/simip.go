// Package simip is the one place a SIM's IP address is read: the 1NCE
// listing (sim-poller), the commands on the queues (events), the store's IP
// index (simstore) and the device lookup (onboarding-api) all go through it,
// so one SIM has one spelling of its address everywhere.
//
// The rule: 1NCE assigns every SIM a fixed IPv4 address (its SIM Management
// API documents `ip_address` as "the fixed IP address of the SIM card", with
// IPv4 examples; nothing in 1NCE's documentation mentions IPv6 SIM
// addresses). So
//   - a dotted IPv4 address is kept as is;
//   - an IPv4-mapped IPv6 address (::ffff:10.1.2.3, ::ffff:a01:203) is the
//     IPv4 address it maps, spelled 10.1.2.3: a device at 10.1.2.3 must find
//     it, and two SIMs listed as 10.1.2.3 and ::ffff:10.1.2.3 share one IP;
//   - anything else is invalid data: plain IPv6, zones, ports, brackets,
//     surrounding whitespace, out-of-range or zero-padded octets, and
//     addresses no device can have (0.0.0.0, multicast, broadcast).
package simip

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// ErrInvalid marks an address that cannot be a SIM's: callers skip and
// report the SIM (or refuse the command) rather than act on it.
var ErrInvalid = errors.New("invalid SIM IP address")

// broadcast is the limited broadcast address, which no device holds.
var broadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// Parse returns the SIM address s as an IPv4 address (Is4 is true), with
// IPv4-mapped IPv6 unmapped; every error wraps ErrInvalid and says why.
func Parse(s string) (netip.Addr, error) {
	if err := checkSpelling(s); err != nil {
		return netip.Addr{}, fmt.Errorf("%w %q: %w", ErrInvalid, s, err)
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w %q: %w", ErrInvalid, s, err)
	}
	if err := checkAddr(addr); err != nil {
		return netip.Addr{}, fmt.Errorf("%w %q: %w", ErrInvalid, s, err)
	}
	return addr.Unmap(), nil
}

// Normalize returns the canonical spelling of the SIM address s (dotted
// IPv4, e.g. "10.1.2.3" for "::ffff:10.1.2.3"): the form stored, indexed,
// sent in commands and compared.
func Normalize(s string) (string, error) {
	addr, err := Parse(s)
	if err != nil {
		return "", err
	}
	return addr.String(), nil
}

// IsCanonical reports whether s is a valid SIM address already in its
// canonical spelling, as every command and record must carry it.
func IsCanonical(s string) bool {
	n, err := Normalize(s)
	return err == nil && n == s
}

// checkSpelling catches what netip would reject with a less helpful
// message, or (zones) accept.
func checkSpelling(s string) error {
	switch {
	case s == "":
		return errors.New("empty")
	case strings.TrimSpace(s) != s:
		return errors.New("surrounding whitespace")
	case strings.ContainsRune(s, '%'):
		return errors.New("an IPv6 zone is not part of a SIM address")
	case strings.ContainsAny(s, "[]") || strings.Count(s, ":") == 1:
		return errors.New("a port or brackets are not part of a SIM address")
	}
	return nil
}

// checkAddr rejects parsed addresses a SIM cannot have.
func checkAddr(addr netip.Addr) error {
	if addr.Is6() && !addr.Is4In6() {
		return errors.New("IPv6 address: 1NCE assigns SIMs IPv4 addresses (IPv4-mapped ::ffff:a.b.c.d is accepted)")
	}
	a := addr.Unmap()
	if a.IsUnspecified() || a.IsMulticast() || a == broadcast {
		return errors.New("not a unicast host address")
	}
	return nil
}
