package oncesim

import (
	"fmt"
	"strconv"
	"strings"
)

// ipSeq produces IPv4 addresses from a pattern such as 10.0.x.x: the trailing x octets form a
// big-endian counter, so a test can give every SIM a distinct loopback address to bind.
type ipSeq struct {
	octets [4]int
	xs     int // number of trailing x octets; 0 means "no IP" (empty pattern)
	start  int64
}

// newIPSeq parses pattern and checks that count addresses from start fit in its x octets.
// An empty pattern yields SIMs without an IP address.
func newIPSeq(pattern string, start, count int) (ipSeq, error) {
	if pattern == "" {
		return ipSeq{}, nil
	}
	seq, err := parseIPPattern(pattern)
	if err != nil {
		return ipSeq{}, err
	}
	if start < 0 {
		return ipSeq{}, fmt.Errorf("ip start %d: must not be negative", start)
	}
	capacity := int64(1) << (8 * seq.xs)
	if count > 0 && int64(start)+int64(count) > capacity {
		return ipSeq{}, fmt.Errorf("ip pattern %q: %d addresses from %d overflow %d x octet(s)", pattern, count, start, seq.xs)
	}
	seq.start = int64(start)
	return seq, nil
}

// parseIPPattern reads a dotted quad whose trailing octets may be x.
func parseIPPattern(pattern string) (ipSeq, error) {
	parts := strings.Split(pattern, ".")
	if len(parts) != 4 {
		return ipSeq{}, fmt.Errorf("ip pattern %q: want four dot-separated octets", pattern)
	}
	var seq ipSeq
	for i, p := range parts {
		if err := seq.readOctet(i, p); err != nil {
			return ipSeq{}, fmt.Errorf("ip pattern %q: %w", pattern, err)
		}
	}
	if seq.xs == 0 {
		return ipSeq{}, fmt.Errorf("ip pattern %q: needs at least one trailing x octet", pattern)
	}
	return seq, nil
}

// readOctet stores octet i, or counts it as an x; fixed octets may not follow an x.
func (s *ipSeq) readOctet(i int, p string) error {
	if p == "x" || p == "X" {
		s.xs++
		return nil
	}
	if s.xs > 0 {
		return fmt.Errorf("octet %d: fixed octet after an x octet", i+1)
	}
	v, err := strconv.Atoi(p)
	if err != nil || v < 0 || v > 255 || !isDigits(p) {
		return fmt.Errorf("octet %d: %q is neither 0-255 nor x", i+1, p)
	}
	s.octets[i] = v
	return nil
}

// at returns the i-th address of the sequence, or "" when the pattern was empty.
func (s ipSeq) at(i int) string {
	if s.xs == 0 {
		return ""
	}
	o := s.octets
	n := s.start + int64(i)
	for j := 3; j >= 4-s.xs; j-- {
		o[j] = int(n & 0xff)
		n >>= 8
	}
	return strconv.Itoa(o[0]) + "." + strconv.Itoa(o[1]) + "." + strconv.Itoa(o[2]) + "." + strconv.Itoa(o[3])
}
