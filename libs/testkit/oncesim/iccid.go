package oncesim

import (
	"fmt"
	"strconv"
	"strings"
)

// iccidLength is the number of digits of a generated ICCID (without the Luhn digit), as on 1NCE SIMs.
const iccidLength = 19

// iccidSeq produces ICCIDs made of a fixed prefix and a zero-padded counter.
type iccidSeq struct {
	prefix string
	width  int
}

// newICCIDSeq checks that count ICCIDs fit behind prefix in 19 digits.
func newICCIDSeq(prefix string, count int) (iccidSeq, error) {
	if !isDigits(prefix) {
		return iccidSeq{}, fmt.Errorf("iccid prefix %q: only digits allowed", prefix)
	}
	width := iccidLength - len(prefix)
	if width < 0 {
		return iccidSeq{}, fmt.Errorf("iccid prefix %q: longer than %d digits", prefix, iccidLength)
	}
	if !fitsDecimal(count, width) {
		return iccidSeq{}, fmt.Errorf("iccid prefix %q: %d SIMs do not fit in %d counter digits", prefix, count, width)
	}
	return iccidSeq{prefix: prefix, width: width}, nil
}

// fitsDecimal reports whether the counters 0..count-1 fit in width decimal digits.
func fitsDecimal(count, width int) bool {
	if width >= 18 {
		return true
	}
	capacity := 1
	for range width {
		capacity *= 10
	}
	return count <= capacity
}

// at returns the i-th ICCID of the sequence.
func (s iccidSeq) at(i int) string {
	if s.width == 0 {
		return s.prefix
	}
	n := strconv.Itoa(i)
	return s.prefix + strings.Repeat("0", s.width-len(n)) + n
}
