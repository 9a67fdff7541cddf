package oncesim

import (
	"errors"
	"fmt"
	"net/http"
)

// Fault is one injected-failure rule, the body element of PUT /admin/faults. It lets a test make
// the simulator misbehave the ways the real API (or the network) can, to prove a client copes.
//
// A rule watches the requests of one endpoint (Match), narrowed to one page of the listing (Page)
// or one SIM (ICCID) when set. Every such request is counted; the first Skip pass untouched, the
// next Times (0 = all further ones) get the effects. When several rules are due for the same
// request, the first in the list applies and the others only count it.
//
// Effects combine: DelayMS waits first; then Reset closes the connection without an answer; else
// the answer is Status with Body (or, without Status, the real answer with Body replacing its
// body, or with its last DropSIMs SIMs removed: a short page), with OmitHeader removed,
// SetHeaders and RetryAfter set, and, with Truncate, cut after the headers and half the body. Note that Go's http.Transport silently retries an idempotent
// request once when a reused connection is reset, so use Times ≥ 2 to see a reset from a Go client.
type Fault struct {
	Match      string            `json:"match"`                 // "token", "sims" (listing) or "sim" (one SIM)
	Page       int               `json:"page,omitempty"`        // "sims" only: watch requests for this page only
	ICCID      string            `json:"iccid,omitempty"`       // "sim" only: watch requests for this SIM only
	Skip       int               `json:"skip,omitempty"`        // matching requests to let through first
	Times      int               `json:"times,omitempty"`       // matching requests to affect; 0 = forever
	Status     int               `json:"status,omitempty"`      // answer this status instead of the real one
	Body       string            `json:"body,omitempty"`        // raw body (e.g. invalid JSON)
	RetryAfter string            `json:"retry_after,omitempty"` // Retry-After header value
	OmitHeader string            `json:"omit_header,omitempty"` // header to remove, e.g. X-Total-Pages
	SetHeaders map[string]string `json:"set_headers,omitempty"` // headers to set, e.g. X-Total-Pages: 0
	DelayMS    int               `json:"delay_ms,omitempty"`    // wait before answering
	Reset      bool              `json:"reset,omitempty"`       // close the connection without answering
	Truncate   bool              `json:"truncate,omitempty"`    // send headers and half the body, then close
	DropSIMs   int               `json:"drop_sims,omitempty"`   // "sims" only: remove the page's last N SIMs
}

// FaultState is a rule as GET /admin/faults reports it, with how many requests it has seen and
// affected, so a test can check its fault actually fired.
type FaultState struct {
	Fault
	Matched int `json:"matched"`
	Applied int `json:"applied"`
}

// Validate rejects rules that cannot fire or contradict themselves, so a test's typo is a 400
// instead of a silently passing test.
func (f Fault) Validate() error {
	if f.Match != EndpointToken && f.Match != EndpointSIMs && f.Match != EndpointSIM {
		return fmt.Errorf("match %q: want %q, %q or %q", f.Match, EndpointToken, EndpointSIMs, EndpointSIM)
	}
	if f.Skip < 0 || f.Times < 0 || f.DelayMS < 0 || f.Page < 0 || f.DropSIMs < 0 {
		return errors.New("skip, times, delay_ms, page and drop_sims must not be negative")
	}
	if f.Page != 0 && f.Match != EndpointSIMs || f.DropSIMs != 0 && f.Match != EndpointSIMs {
		return fmt.Errorf("page and drop_sims apply to %q only", EndpointSIMs)
	}
	if f.ICCID != "" && f.Match != EndpointSIM {
		return fmt.Errorf("iccid applies to %q only", EndpointSIM)
	}
	if f.DropSIMs != 0 && (f.Status != 0 || f.Body != "") {
		return errors.New("drop_sims edits the real page: it cannot be combined with status or body")
	}
	if f.Status != 0 && (f.Status < 100 || f.Status > 599) {
		return fmt.Errorf("status %d: want 100-599", f.Status)
	}
	if f.Reset && (f.Truncate || f.Status != 0 || f.Body != "" || f.DropSIMs != 0) {
		return errors.New("reset sends nothing: it cannot be combined with status, body, drop_sims or truncate")
	}
	if !f.hasEffect() {
		return errors.New("rule has no effect (status, body, retry_after, omit_header, set_headers, delay_ms, reset, truncate or drop_sims)")
	}
	return nil
}

// hasEffect reports whether the rule changes anything.
func (f Fault) hasEffect() bool {
	return f.Status != 0 || f.Body != "" || f.RetryAfter != "" || f.OmitHeader != "" ||
		len(f.SetHeaders) > 0 || f.DelayMS > 0 || f.Reset || f.Truncate || f.DropSIMs > 0
}

// watches reports whether the rule's filters let a request for page or iccid count.
func (f Fault) watches(page int, iccid string) bool {
	return (f.Page == 0 || f.Page == page) && (f.ICCID == "" || f.ICCID == iccid)
}

// syntheticBody is the answer body of a Status rule without Body.
func (f Fault) syntheticBody() string {
	return fmt.Sprintf(`{"status_code":%d,"error":"InjectedFault","message":%q}`, f.Status, http.StatusText(f.Status))
}
