package onceapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/simbridge/simbridge/libs/events"
)

// listing checks, page by page, that a listing adds up. Offset paging over an
// account that changes while it is read, and headers that lie, each hide
// SIMs without any error; a caller that takes the missing SIMs as gone
// disables devices that still have a SIM. So a listing is complete only when
// everything it said is consistent:
//
//  1. X-Total-Count and X-Total-Pages are the same on every page (a SIM added
//     or removed mid-listing changes them, and shifts every later offset).
//  2. When both are given, X-Total-Pages is X-Total-Count divided by the page
//     size asked for, rounded up.
//  3. Every page holds what the headers leave for it: full pages up to the
//     declared last one, the remainder on that one, nothing after it. A short
//     page in the middle is a hole whatever the headers say.
//  4. No ICCID is listed twice: a duplicate is a SIM that slid across a page
//     boundary because the account changed, and others slid out of sight.
//  5. The distinct ICCIDs seen are exactly X-Total-Count.
//
// The listing ends on a short page at or after the declared end (or on any
// short page when neither header is given), on an empty page, or on a page of
// SIMs already seen. After a problem the pages up to the declared end are
// still read, so callers can act on every SIM that was listed, just not on
// the absence of one. A zero X-Total-Pages counts as not given.
type listing struct {
	size int
	// seen holds the packed ICCIDs listed so far (12 bytes each, no
	// pointers: a million SIMs cost about 20 MB), odd the few that are not
	// valid ICCIDs and so have no packed form.
	seen map[events.ICCIDKey]struct{}
	odd  map[string]struct{}
	// dupes counts entries whose ICCID was listed before; dupe is the first.
	dupes int
	dupe  string
	first totals
	// pages is how many pages the headers announce (the larger of
	// X-Total-Pages and what X-Total-Count implies), 0 when unknown.
	pages int
	// reported remembers header problems already named, so a header that is
	// wrong on every page is named once.
	reported map[string]bool
	short    bool // a page with the wrong number of SIMs was reported
	problems []string
}

// totals are the paging headers of one page.
type totals struct {
	countRaw, pagesRaw string
	// count and pages are the parsed values, -1 when absent or not a count;
	// a zero X-Total-Pages is -1 too.
	count, pages int
}

// maxProblems bounds the reasons named in one ErrIncomplete.
const maxProblems = 5

func newListing(size int) *listing {
	return &listing{size: size, seen: map[events.ICCIDKey]struct{}{}, odd: map[string]struct{}{}, reported: map[string]bool{}}
}

// add checks one page and reports whether the listing goes on.
func (l *listing) add(page int, sims []SIM, h http.Header) bool {
	t := l.parse(h)
	if page == 1 {
		l.start(t)
	} else {
		l.compare(page, t)
	}
	fresh := l.record(page, sims)
	l.checkSize(page, len(sims))
	switch {
	case len(sims) == 0:
		return false
	case fresh == 0:
		l.problem("page %d listed only SIMs already seen", page)
		return false
	case page < l.pages:
		return true
	default:
		// At or past the declared end, a full page may still have a successor.
		return len(sims) >= l.size
	}
}

// parse reads the totals, reporting values that are not counts.
func (l *listing) parse(h http.Header) totals {
	t := totals{countRaw: h.Get(HeaderTotalCount), pagesRaw: h.Get(HeaderTotalPages)}
	t.count = l.count(HeaderTotalCount, t.countRaw)
	t.pages = l.count(HeaderTotalPages, t.pagesRaw)
	if t.pages == 0 {
		t.pages = -1
	}
	return t
}

func (l *listing) count(name, raw string) int {
	if raw == "" {
		return -1
	}
	v, err := strconv.Atoi(raw)
	if err != nil || v < 0 {
		if l.once("invalid " + name) {
			l.problem("%s %q is not a count", name, raw)
		}
		return -1
	}
	return v
}

// start takes page 1's totals as the listing's and checks they agree.
func (l *listing) start(t totals) {
	l.first = t
	implied := -1
	if t.count >= 0 {
		implied = max(1, ceilDiv(t.count, l.size))
	}
	if t.pages > 0 && implied > 0 && t.pages != implied {
		l.problem("X-Total-Pages %d disagrees with X-Total-Count %d (%d pages of %d)", t.pages, t.count, implied, l.size)
	}
	l.pages = max(t.pages, implied, 0)
}

// compare reports a total that differs from page 1's, once per header.
func (l *listing) compare(page int, t totals) {
	for _, h := range []struct{ name, was, now string }{
		{HeaderTotalCount, l.first.countRaw, t.countRaw},
		{HeaderTotalPages, l.first.pagesRaw, t.pagesRaw},
	} {
		if h.was != h.now && l.once("changed "+h.name) {
			l.problem("%s changed from %s on page 1 to %s on page %d", h.name, shown(h.was), shown(h.now), page)
		}
	}
}

// record remembers the page's ICCIDs and returns how many were new.
func (l *listing) record(page int, sims []SIM) int {
	fresh := 0
	for _, s := range sims {
		if l.saw(s.ICCID) {
			if l.dupes == 0 {
				l.dupe = fmt.Sprintf("ICCID %q listed again on page %d", s.ICCID, page)
			}
			l.dupes++
			continue
		}
		fresh++
	}
	return fresh
}

// saw reports whether iccid was listed before, and remembers it.
func (l *listing) saw(iccid string) bool {
	if k, ok := events.KeyOf(iccid); ok {
		_, dup := l.seen[k]
		l.seen[k] = struct{}{}
		return dup
	}
	_, dup := l.odd[iccid]
	l.odd[iccid] = struct{}{}
	return dup
}

// distinct is how many different ICCIDs were listed.
func (l *listing) distinct() int { return len(l.seen) + len(l.odd) }

// checkSize compares the number of SIMs on a page with what the headers
// leave for it; the first page that does not fit is reported.
func (l *listing) checkSize(page, n int) {
	if n > l.size {
		l.problem("page %d held %d SIMs, asked for %d", page, n, l.size)
		return
	}
	lo, hi, why := l.expected(page)
	if lo < 0 || (n >= lo && n <= hi) || l.short {
		return
	}
	l.short = true
	l.problem("page %d held %d SIMs, want %s", page, n, why)
}

// expected is how many SIMs page must hold by the headers, lo to hi (lo -1
// when they do not say), with the reason in words.
func (l *listing) expected(page int) (lo, hi int, why string) {
	if c := l.first.count; c >= 0 {
		want := min(max(c-(page-1)*l.size, 0), l.size)
		return want, want, fmt.Sprintf("%d (X-Total-Count %d, %d per page)", want, c, l.size)
	}
	switch p := l.first.pages; {
	case p < 0:
		return -1, -1, ""
	case page < p:
		return l.size, l.size, fmt.Sprintf("%d (page %d of %d)", l.size, page, p)
	case page > p:
		return 0, 0, fmt.Sprintf("none (X-Total-Pages %d)", p)
	case p == 1:
		return 0, l.size, "" // an empty account has one empty page
	default:
		return 1, l.size, fmt.Sprintf("1-%d (last page %d of %d)", l.size, page, p)
	}
}

// finish checks the totals against what was seen.
func (l *listing) finish() {
	if l.dupes > 0 {
		l.problem("%s (%d repeated entries in all: SIMs were added or removed while paging)", l.dupe, l.dupes)
	}
	if c := l.first.count; c >= 0 && l.distinct() != c {
		l.problem("saw %d distinct ICCIDs, X-Total-Count said %d", l.distinct(), c)
	}
}

// once reports whether key is new, remembering it.
func (l *listing) once(key string) bool {
	if l.reported[key] {
		return false
	}
	l.reported[key] = true
	return true
}

func (l *listing) problem(format string, args ...any) {
	l.problems = append(l.problems, fmt.Sprintf(format, args...))
}

// err is ErrIncomplete naming every problem (the first few), or nil.
func (l *listing) err() error {
	if len(l.problems) == 0 {
		return nil
	}
	shown := l.problems[:min(len(l.problems), maxProblems)]
	msg := strings.Join(shown, "; ")
	if more := len(l.problems) - len(shown); more > 0 {
		msg += fmt.Sprintf("; and %d more", more)
	}
	return fmt.Errorf("%w: %s", ErrIncomplete, msg)
}

func shown(raw string) string {
	if raw == "" {
		return "none"
	}
	return raw
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
