package onceapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/simbridge/simbridge/libs/onceapi"
)

// account is a 1NCE inventory served by offset paging that can change while
// it is listed: before serving the n-th page request it runs the mutation
// registered for n, as when a SIM is added or removed mid-listing.
type account struct {
	mu     sync.Mutex
	iccids []string
	// before maps a page request number (1-based) to a change of the account.
	before map[int32]func(a *account)
	// headers may rewrite the paging headers of a page, edit its SIMs.
	headers func(h http.Header, page int)
	edit    func(page int, sims []onceapi.SIM) []onceapi.SIM
}

// size is the page size the tests of this file ask for.
const size = 5

func accountOf(n int) *account {
	a := &account{before: map[int32]func(*account){}}
	for i := range n {
		a.iccids = append(a.iccids, simID(i))
	}
	return a
}

func simID(i int) string { return fmt.Sprintf("89882806660000%05d", i) }

func (a *account) remove(iccid string) {
	a.iccids = slices.DeleteFunc(a.iccids, func(s string) bool { return s == iccid })
}

func (a *account) insert(iccid string) {
	a.iccids = append(a.iccids, iccid)
	slices.Sort(a.iccids)
}

// serve is a fakeAPI hook answering every SIM page from the account.
func (a *account) serve(w http.ResponseWriter, page int, call int32) bool {
	a.mu.Lock()
	if m := a.before[call]; m != nil {
		m(a)
	}
	total := len(a.iccids)
	sims := []onceapi.SIM{}
	for i := (page - 1) * size; i >= 0 && i < page*size && i < total; i++ {
		sims = append(sims, onceapi.SIM{ICCID: a.iccids[i], IPAddress: "10.0.0.1", Status: onceapi.StatusEnabled})
	}
	a.mu.Unlock()
	h := w.Header()
	h.Set(onceapi.HeaderTotalCount, strconv.Itoa(total))
	h.Set(onceapi.HeaderTotalPages, strconv.Itoa(max(1, (total+size-1)/size)))
	if a.headers != nil {
		a.headers(h, page)
	}
	if a.edit != nil {
		sims = a.edit(page, sims)
	}
	writeSIMs(w, sims)
	return true
}

func writeSIMs(w http.ResponseWriter, sims []onceapi.SIM) {
	var b strings.Builder
	b.WriteString("[")
	for i, s := range sims {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"iccid":%q,"ip_address":%q,"status":%q}`, s.ICCID, s.IPAddress, s.Status)
	}
	b.WriteString("]")
	_, _ = w.Write([]byte(b.String()))
}

// set returns a headers hook setting name to value on the given pages (all when none).
func set(name, value string, pages ...int) func(http.Header, int) {
	return func(h http.Header, page int) {
		if len(pages) == 0 || slices.Contains(pages, page) {
			if value == "" {
				h.Del(name)
			} else {
				h.Set(name, value)
			}
		}
	}
}

// both applies several header hooks in order.
func both(hooks ...func(http.Header, int)) func(http.Header, int) {
	return func(h http.Header, page int) {
		for _, f := range hooks {
			f(h, page)
		}
	}
}

// dropOn removes n SIMs from the end of the given page, as a page that comes back short.
func dropOn(page, n int) func(int, []onceapi.SIM) []onceapi.SIM {
	return func(p int, sims []onceapi.SIM) []onceapi.SIM {
		if p != page {
			return sims
		}
		return sims[:max(len(sims)-n, 0)]
	}
}

// TestListingIsCompleteOnlyWhenItAddsUp runs a listing of 32 SIMs in pages of
// 5 (7 pages) against every way offset paging under change, or a header
// that lies, can hide SIMs; each must end in ErrIncomplete naming what did
// not add up, after handing over every SIM that was listed.
func TestListingIsCompleteOnlyWhenItAddsUp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		account func() *account
		// wantErr are substrings of the ErrIncomplete message; none means complete.
		wantErr []string
		// want is how many SIM entries fn must receive, distinct how many different ICCIDs.
		want, distinct int
		maxRequests    int32
	}{
		{name: "consistent listing is complete", want: 32, distinct: 32, maxRequests: 7,
			account: func() *account { return accountOf(32) }},
		{name: "consistent listing with a full last page probes one page further", want: 30, distinct: 30, maxRequests: 7,
			account: func() *account { return accountOf(30) }},
		{name: "empty account", maxRequests: 1,
			account: func() *account { return accountOf(0) }},
		{name: "empty account declaring zero pages", maxRequests: 1,
			account: func() *account { a := accountOf(0); a.headers = set(onceapi.HeaderTotalPages, "0"); return a }},
		{name: "only X-Total-Count given", want: 32, distinct: 32, maxRequests: 7,
			account: func() *account { a := accountOf(32); a.headers = set(onceapi.HeaderTotalPages, ""); return a }},

		// Observed: X-Total-Pages 6 while 7 pages exist.
		{name: "X-Total-Pages one short of X-Total-Count", want: 32, distinct: 32,
			wantErr: []string{"X-Total-Pages 6 disagrees with X-Total-Count 32 (7 pages of 5)"},
			account: func() *account { a := accountOf(32); a.headers = set(onceapi.HeaderTotalPages, "6"); return a }},
		{name: "X-Total-Pages one short, no X-Total-Count", want: 32, distinct: 32,
			wantErr: []string{"page 7 held 2 SIMs, want none (X-Total-Pages 6)"},
			account: func() *account {
				a := accountOf(32)
				a.headers = both(set(onceapi.HeaderTotalPages, "6"), set(onceapi.HeaderTotalCount, ""))
				return a
			}},
		{name: "both headers lying low together", want: 32, distinct: 32,
			wantErr: []string{"saw 32 distinct ICCIDs, X-Total-Count said 30", "page 7 held 2 SIMs, want 0"},
			account: func() *account {
				a := accountOf(32)
				a.headers = both(set(onceapi.HeaderTotalPages, "6"), set(onceapi.HeaderTotalCount, "30"))
				return a
			}},
		{name: "X-Total-Count larger than what is served", want: 32, distinct: 32,
			wantErr: []string{"page 7 held 2 SIMs, want 5", "saw 32 distinct ICCIDs, X-Total-Count said 40"},
			account: func() *account {
				a := accountOf(32)
				a.headers = both(set(onceapi.HeaderTotalPages, ""), set(onceapi.HeaderTotalCount, "40"))
				return a
			}},
		{name: "X-Total-Pages larger than what is served", want: 32, distinct: 32,
			wantErr: []string{"X-Total-Pages 9 disagrees with X-Total-Count 32"},
			account: func() *account { a := accountOf(32); a.headers = set(onceapi.HeaderTotalPages, "9"); return a }},

		// Observed: no X-Total-Pages and a short page in the middle.
		{name: "short page in the middle without X-Total-Pages", want: 30, distinct: 30,
			wantErr: []string{"page 3 held 3 SIMs, want 5", "saw 30 distinct ICCIDs, X-Total-Count said 32"},
			account: func() *account {
				a := accountOf(32)
				a.headers, a.edit = set(onceapi.HeaderTotalPages, ""), dropOn(3, 2)
				return a
			}},
		{name: "short page in the middle with both headers", want: 30, distinct: 30,
			wantErr: []string{"page 3 held 3 SIMs, want 5", "saw 30 distinct ICCIDs, X-Total-Count said 32"},
			account: func() *account { a := accountOf(32); a.edit = dropOn(3, 2); return a }},
		{name: "short page in the middle with only X-Total-Pages", want: 30, distinct: 30,
			wantErr: []string{"page 3 held 3 SIMs, want 5 (page 3 of 7)"},
			account: func() *account {
				a := accountOf(32)
				a.headers, a.edit = set(onceapi.HeaderTotalCount, ""), dropOn(3, 2)
				return a
			}},
		{name: "empty page in the middle", want: 15, distinct: 15,
			wantErr: []string{"page 4 held 0 SIMs, want 5"},
			account: func() *account { a := accountOf(32); a.edit = dropOn(4, 5); return a }},
		{name: "last page short of X-Total-Count", want: 31, distinct: 31,
			wantErr: []string{"page 7 held 1 SIMs, want 2", "saw 31 distinct ICCIDs, X-Total-Count said 32"},
			account: func() *account { a := accountOf(32); a.edit = dropOn(7, 1); return a }},
		{name: "last declared page empty, only X-Total-Pages", want: 30, distinct: 30,
			wantErr: []string{"page 7 held 0 SIMs, want 1-5 (last page 7 of 7)"},
			account: func() *account {
				a := accountOf(32)
				a.headers, a.edit = set(onceapi.HeaderTotalCount, ""), dropOn(7, 2)
				return a
			}},

		// Observed: a SIM deleted in 1NCE while the listing is between pages.
		{name: "SIM deleted between pages", want: 31, distinct: 31,
			wantErr: []string{"X-Total-Count changed from 32 on page 1 to 31 on page 3", "saw 31 distinct ICCIDs, X-Total-Count said 32"},
			account: func() *account {
				a := accountOf(32)
				a.before[3] = func(a *account) { a.remove(simID(1)) }
				return a
			}},
		{name: "SIM deleted between pages behind stale headers", want: 31, distinct: 31,
			wantErr: []string{"page 7 held 1 SIMs, want 2", "saw 31 distinct ICCIDs, X-Total-Count said 32"},
			account: func() *account {
				a := accountOf(32)
				a.before[3] = func(a *account) { a.remove(simID(1)) }
				a.headers = both(set(onceapi.HeaderTotalCount, "32"), set(onceapi.HeaderTotalPages, "7"))
				return a
			}},
		{name: "SIM inserted between pages", want: 33, distinct: 32,
			wantErr: []string{`ICCID "8988280666000000004" listed again on page 2`, "X-Total-Count changed from 32 on page 1 to 33 on page 2"},
			account: func() *account {
				a := accountOf(32)
				a.before[2] = func(a *account) { a.insert("8988280666000000000a") }
				return a
			}},
		{name: "SIM inserted between pages behind stale headers", want: 33, distinct: 32,
			wantErr: []string{`listed again on page 2`, "page 7 held 3 SIMs, want 2"},
			account: func() *account {
				a := accountOf(32)
				a.before[2] = func(a *account) { a.insert("8988280666000000000a") }
				a.headers = both(set(onceapi.HeaderTotalCount, "32"), set(onceapi.HeaderTotalPages, "7"))
				return a
			}},
		{name: "X-Total-Count changing mid-listing", want: 32, distinct: 32,
			wantErr: []string{"X-Total-Count changed from 32 on page 1 to 31 on page 4"},
			account: func() *account {
				a := accountOf(32)
				a.headers = set(onceapi.HeaderTotalCount, "31", 4, 5, 6, 7)
				return a
			}},
		{name: "X-Total-Pages changing mid-listing", want: 32, distinct: 32,
			wantErr: []string{"X-Total-Pages changed from 7 on page 1 to 8 on page 2"},
			account: func() *account { a := accountOf(32); a.headers = set(onceapi.HeaderTotalPages, "8", 2); return a }},
		{name: "X-Total-Count appearing mid-listing", want: 32, distinct: 32,
			wantErr: []string{"X-Total-Count changed from none on page 1 to 32 on page 2"},
			account: func() *account { a := accountOf(32); a.headers = set(onceapi.HeaderTotalCount, "", 1); return a }},
		{name: "X-Total-Count that is not a count", want: 32, distinct: 32,
			wantErr: []string{`X-Total-Count "32 SIMs" is not a count`},
			account: func() *account { a := accountOf(32); a.headers = set(onceapi.HeaderTotalCount, "32 SIMs"); return a }},
		{name: "duplicate ICCID within a page", want: 32, distinct: 31,
			wantErr: []string{`ICCID "8988280666000000005" listed again on page 2`, "saw 31 distinct ICCIDs"},
			account: func() *account {
				a := accountOf(32)
				a.edit = func(p int, sims []onceapi.SIM) []onceapi.SIM {
					if p == 2 {
						sims[1] = sims[0]
					}
					return sims
				}
				return a
			}},
		{name: "page larger than asked", want: 35, distinct: 32,
			wantErr: []string{"page 1 held 8 SIMs, asked for 5"},
			account: func() *account {
				a := accountOf(32)
				a.edit = func(p int, sims []onceapi.SIM) []onceapi.SIM {
					if p == 1 {
						sims = append(sims, onceapi.SIM{ICCID: simID(5)}, onceapi.SIM{ICCID: simID(6)}, onceapi.SIM{ICCID: simID(7)})
					}
					return sims
				}
				return a
			}},
		{name: "page parameter ignored ends at the first repeated page", want: 10, distinct: 5, maxRequests: 2,
			wantErr: []string{"page 2 listed only SIMs already seen"},
			account: func() *account {
				a := accountOf(32)
				a.edit = func(int, []onceapi.SIM) []onceapi.SIM {
					out := []onceapi.SIM{}
					for i := range size {
						out = append(out, onceapi.SIM{ICCID: simID(i)})
					}
					return out
				}
				return a
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := tc.account()
			api := &fakeAPI{hook: a.serve}
			c := newClient(t, api, func(c *onceapi.Config) { c.PageSize = size })
			got := 0
			stats, err := c.ListSIMs(context.Background(), func(p []onceapi.SIM) error { got += len(p); return nil })
			if len(tc.wantErr) == 0 && err != nil {
				t.Fatalf("err = %v, want a complete listing", err)
			}
			if len(tc.wantErr) > 0 && !errors.Is(err, onceapi.ErrIncomplete) {
				t.Fatalf("err = %v, want ErrIncomplete", err)
			}
			for _, s := range tc.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not name %q", err, s)
				}
			}
			if got != tc.want || stats.SIMs != tc.want || stats.Distinct != tc.distinct {
				t.Errorf("handed over %d SIMs, stats %+v; want %d entries, %d distinct", got, stats, tc.want, tc.distinct)
			}
			if tc.maxRequests > 0 && api.pages.Load() > tc.maxRequests {
				t.Errorf("made %d page requests, want at most %d", api.pages.Load(), tc.maxRequests)
			}
		})
	}
}

func TestIncompleteListingNamesAtMostAFewProblems(t *testing.T) {
	t.Parallel()
	a := accountOf(32)
	a.headers = func(h http.Header, page int) {
		h.Set(onceapi.HeaderTotalCount, strconv.Itoa(100+page))
		h.Set(onceapi.HeaderTotalPages, strconv.Itoa(50+page))
	}
	a.edit = func(p int, sims []onceapi.SIM) []onceapi.SIM { return append(sims, sims...) }
	c := newClient(t, &fakeAPI{hook: a.serve}, func(c *onceapi.Config) { c.PageSize = size })
	_, err := listAll(c)
	if !errors.Is(err, onceapi.ErrIncomplete) || !strings.Contains(err.Error(), "more") || len(err.Error()) > 1000 {
		t.Fatalf("err = %v, want ErrIncomplete naming a few problems and how many more", err)
	}
}
