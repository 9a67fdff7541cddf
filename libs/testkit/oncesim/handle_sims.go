package oncesim

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/simbridge/simbridge/libs/onceapi"
)

// handleSIMs serves one page of the inventory with 1NCE's paging headers. Inventory changes
// due at this page (see Mutation) happen first, as if 1NCE changed between two page requests.
func (s *Server) handleSIMs(w http.ResponseWriter, r *http.Request) {
	if !s.admit(w, r) {
		return
	}
	page, size, err := parsePaging(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	s.mutator.beforePage(s.inv, s.log)
	sims, total := s.inv.page(page, size)
	s.mutator.pageServed()
	setPagingHeaders(w.Header(), page, size, total)
	writeJSON(w, http.StatusOK, sims)
}

// handleSIM serves one SIM as GET /v1/sims/{iccid} does, or 404 in 1NCE's error shape when the
// account does not hold it.
func (s *Server) handleSIM(w http.ResponseWriter, r *http.Request) {
	if !s.admit(w, r) {
		return
	}
	iccid := r.PathValue("iccid")
	sim, ok := s.inv.Get(iccid)
	if !ok {
		writeError(w, http.StatusNotFound, "NotFound", "SIM "+iccid+" not found.")
		return
	}
	writeJSON(w, http.StatusOK, sim)
}

// admit answers 401 without a valid token and 429 beyond the rate limit, which the listing and
// the single-SIM endpoint share (1NCE limits requests per customer); it reports whether the
// request may go on.
func (s *Server) admit(w http.ResponseWriter, r *http.Request) bool {
	if !s.tokens.valid(bearerToken(r)) {
		writeError(w, http.StatusUnauthorized, "Unauthorized", "Missing, invalid or expired access token.")
		return false
	}
	if s.limiter != nil && !s.limiter.Allow() {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, "TooManyRequests", "Rate limit exceeded.")
		return false
	}
	return true
}

// setPagingHeaders writes X-Count-Per-Page, X-Current-Page, X-Total-Count and X-Total-Pages.
// An empty inventory reports one (empty) page, never zero pages.
func setPagingHeaders(h http.Header, page, size, total int) {
	h.Set(onceapi.HeaderCountPerPage, strconv.Itoa(size))
	h.Set(onceapi.HeaderCurrentPage, strconv.Itoa(page))
	h.Set(onceapi.HeaderTotalCount, strconv.Itoa(total))
	h.Set(onceapi.HeaderTotalPages, strconv.Itoa(max(1, (total+size-1)/size)))
}

// parsePaging reads page (≥ 1, default 1) and pageSize (1..100, default 10).
func parsePaging(q url.Values) (page, size int, err error) {
	page, err = intParam(q, "page", 1)
	if err == nil && page < 1 {
		err = fmt.Errorf("page must be >= 1, got %d", page)
	}
	if err != nil {
		return 0, 0, err
	}
	size, err = intParam(q, "pageSize", DefaultPageSize)
	if err == nil && (size < 1 || size > onceapi.MaxPageSize) {
		err = fmt.Errorf("pageSize must be between 1 and %d, got %d", onceapi.MaxPageSize, size)
	}
	return page, size, err
}

// intParam reads an integer query parameter, def when absent.
func intParam(q url.Values, name string, def int) (int, error) {
	if !q.Has(name) {
		return def, nil
	}
	v, err := strconv.Atoi(q.Get(name))
	if err != nil {
		return 0, errors.New(name + " must be an integer")
	}
	return v, nil
}

// bearerToken extracts the token of an "Authorization: Bearer <token>" header, "" if absent.
func bearerToken(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}
