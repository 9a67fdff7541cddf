package adapters

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// pollEvery is how often the tun interface is checked: openvpn tells
// nobody when it gets or loses its address, so the interface is watched.
const pollEvery = 200 * time.Millisecond

// ErrNoAddress means the tun interface has (or still has) no IPv4 address.
var ErrNoAddress = errors.New("tun interface has no IPv4 address")

// address returns the first IPv4 address of the interface named dev.
func address(dev string) (netip.Addr, error) {
	ifc, err := net.InterfaceByName(dev)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("interface %s: %w", dev, err)
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("addresses of %s: %w", dev, err)
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() {
			return p.Addr(), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%s: %w", dev, ErrNoAddress)
}

// waitForAddress polls dev until it has an IPv4 address, openvpn exits, the
// limit passes or ctx ends.
func waitForAddress(ctx context.Context, dev string, limit time.Duration, p *process) (netip.Addr, error) {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		if ip, err := address(dev); err == nil {
			return ip, nil
		}
		select {
		case <-ctx.Done():
			return netip.Addr{}, ctx.Err()
		case <-p.done:
			return netip.Addr{}, fmt.Errorf("openvpn exited before the tunnel was up: %w", p.exitErr())
		case <-deadline.C:
			return netip.Addr{}, fmt.Errorf("tunnel not up within %v: %w", limit, ErrNoAddress)
		case <-tick.C:
		}
	}
}

// watchAddress returns when dev no longer has ip (openvpn reconnected
// elsewhere or tore the interface down) or ctx ends.
func watchAddress(ctx context.Context, dev string, ip netip.Addr) error {
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if got, err := address(dev); err != nil || got != ip {
				return fmt.Errorf("tunnel address %s gone (now %v): %w", ip, got, ErrNoAddress)
			}
		}
	}
}
