package ports

import (
	"mime"
	"strconv"
	"strings"
)

// Formats the onboarding answer is offered in.
const (
	formatJSON = "application/json"
	formatCSV  = "text/csv"
)

// negotiate picks the answer's format from an Accept header (RFC 9110
// §12.5.1), since firmware built on 1NCE's blueprints asks for CSV and
// everything else expects JSON:
//   - each offered format takes the q of the most specific range matching
//     it (text/csv beats text/* beats */*), so "text/csv;q=0, */*" refuses
//     CSV; q=0 means not acceptable;
//   - the format with the highest q wins; a tie goes to JSON, the answer
//     before negotiation existed (so */* and no Accept mean JSON);
//   - when nothing offered is acceptable (Accept: text/plain, or both
//     refused) the answer is JSON, not 406: RFC 9110 allows disregarding
//     Accept, and a device that sends an odd Accept got JSON before and
//     must keep onboarding.
//
// Elements that do not parse, or carry a q outside 0..1, are ignored.
func negotiate(accept string) string {
	if strings.TrimSpace(accept) == "" {
		return formatJSON
	}
	ranges := parseAccept(accept)
	if qCSV := qualityOf(formatCSV, ranges); qCSV > 0 && qCSV > qualityOf(formatJSON, ranges) {
		return formatCSV
	}
	return formatJSON
}

// mediaRange is one element of Accept: type/subtype (either may be *) and q.
type mediaRange struct {
	typ, sub string
	q        float64
}

// parseAccept reads the elements of an Accept header; mime.ParseMediaType
// does the per-element work (quoting, case, parameters).
func parseAccept(accept string) []mediaRange {
	var out []mediaRange
	for _, elem := range splitList(accept) {
		mt, params, err := mime.ParseMediaType(elem)
		if err != nil {
			continue
		}
		typ, sub, ok := strings.Cut(mt, "/")
		q, qok := parseQ(params)
		if !ok || !qok || (typ == "*" && sub != "*") {
			continue
		}
		out = append(out, mediaRange{typ: typ, sub: sub, q: q})
	}
	return out
}

// parseQ returns the element's weight: 1 when absent, ok false when it is
// not a number in 0..1 (NaN included).
func parseQ(params map[string]string) (float64, bool) {
	v, set := params["q"]
	if !set {
		return 1, true
	}
	q, err := strconv.ParseFloat(v, 64)
	if err != nil || !(q >= 0 && q <= 1) {
		return 0, false
	}
	return q, true
}

// qualityOf is the q of the most specific range matching mediaType (the
// highest q among equally specific ones), 0 when none matches.
func qualityOf(mediaType string, ranges []mediaRange) float64 {
	typ, sub, _ := strings.Cut(mediaType, "/")
	best, q := -1, 0.0
	for _, r := range ranges {
		spec := specificity(r, typ, sub)
		if spec > best || (spec == best && r.q > q) {
			best, q = spec, r.q
		}
	}
	if best < 0 {
		return 0
	}
	return q
}

// specificity ranks how r matches typ/sub: 2 exact, 1 typ/*, 0 */*, -1 not.
func specificity(r mediaRange, typ, sub string) int {
	switch {
	case r.typ == typ && r.sub == sub:
		return 2
	case r.typ == typ && r.sub == "*":
		return 1
	case r.typ == "*" && r.sub == "*":
		return 0
	}
	return -1
}

// splitList splits a header list on commas outside quoted strings
// (a parameter value may be quoted and hold a comma), dropping empty
// elements as RFC 9110 §5.6.1 allows.
func splitList(s string) []string {
	var out []string
	start, quoted, escaped := 0, false, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			out = appendNonEmpty(out, s[start:i])
			start = i + 1
		}
	}
	return appendNonEmpty(out, s[start:])
}

func appendNonEmpty(out []string, elem string) []string {
	if elem = strings.TrimSpace(elem); elem != "" {
		out = append(out, elem)
	}
	return out
}
