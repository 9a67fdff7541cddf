package ports

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// maxRanges is the most ranges one request may ask for. A modem downloads
// in sequential single ranges; every range of a multi-range answer costs a
// multipart header of about 100 bytes, so hundreds of one-byte ranges
// turned a 5 KB answer into hundreds of KB (http.ServeContent only checks
// that the ranges' sizes add up to less than the body). With 8 the answer
// stays within the body plus under 1 KB.
const maxRanges = 8

// honourRange reports whether the Range header should be passed on to
// http.ServeContent for a body of size bytes. It is not when
//   - the unit is not bytes (RFC 9110 §14.2: ignored);
//   - it lists more than maxRanges ranges, or two satisfiable ranges
//     overlap: RFC 9110 §14.2 lets a server ignore such requests, and
//     ignoring (200 with the whole body, which is never larger than the
//     206 would have been) serves a confused client instead of failing it
//     with a 416 it might retry forever.
//
// Malformed or unsatisfiable ranges are left to ServeContent, which
// answers 416 for them as before.
func honourRange(header string, size int64) bool {
	specs, ok := strings.CutPrefix(header, "bytes=")
	if !ok {
		return false
	}
	elems := splitList(specs)
	if len(elems) > maxRanges {
		return false
	}
	return !overlapping(elems, size)
}

// overlapping reports whether two of the satisfiable byte ranges overlap.
func overlapping(specs []string, size int64) bool {
	var spans [][2]int64
	for _, s := range specs {
		if first, last, ok := resolve(s, size); ok {
			spans = append(spans, [2]int64{first, last})
		}
	}
	slices.SortFunc(spans, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0]) })
	for i := 1; i < len(spans); i++ {
		if spans[i][0] <= spans[i-1][1] {
			return true
		}
	}
	return false
}

// resolve turns one range-spec (RFC 9110 §14.1.2: "first-last",
// "first-" or the suffix "-length") into the first and last byte it
// selects in a body of size bytes; ok is false when it is malformed or
// selects nothing. Numbers are read the way http.ServeContent reads them.
func resolve(spec string, size int64) (first, last int64, ok bool) {
	from, to, found := strings.Cut(spec, "-")
	if !found {
		return 0, 0, false
	}
	from, to = strings.TrimSpace(from), strings.TrimSpace(to)
	if from == "" {
		n, err := strconv.ParseInt(to, 10, 64)
		if err != nil || n <= 0 || size == 0 {
			return 0, 0, false
		}
		return max(size-n, 0), size - 1, true
	}
	first, err := strconv.ParseInt(from, 10, 64)
	if err != nil || first < 0 || first >= size {
		return 0, 0, false
	}
	last = size - 1
	if to != "" {
		n, err := strconv.ParseInt(to, 10, 64)
		if err != nil || n < first {
			return 0, 0, false
		}
		last = min(n, size-1)
	}
	return first, last, true
}
