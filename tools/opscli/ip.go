package opscli

import (
	"bytes"
	"net"
)

// ipLess orders IP addresses numerically (127.0.0.10 after 127.0.0.9);
// unparsable ones sort last, as text.
func ipLess(a, b string) bool {
	ia, ib := net.ParseIP(a).To16(), net.ParseIP(b).To16()
	switch {
	case ia == nil && ib == nil:
		return a < b
	case ia == nil:
		return false
	case ib == nil:
		return true
	}
	return bytes.Compare(ia, ib) < 0
}
