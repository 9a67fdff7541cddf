package simrec

import (
	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simip"
)

// The reconciliation rules (SPEC section 4) for one SIM, in one place. Every
// path that decides whether a SIM gets credentials applies Decide: the full
// sync, targeted syncs (operators' and Data Streamer hints), and the
// operators' `enable`, `status` and `audit` (through sim-poller's answers),
// so a SIM's outcome never depends on which path looked at it or on which
// other SIMs were named with it.
//
// Decide needs only the SIM as 1NCE shows it, the SIM's own record and the
// other SIMs 1NCE gives the same IP as Enabled (its claimants): a caller
// that lists page by page keeps an index of IPs, one that looks SIMs up one
// by one asks about every SIM holding the IP. Nothing here needs the whole
// listing in memory.
//
//  1. 1NCE does not hold the SIM (confirmed, never inferred from a listing
//     that merely missed it): a SIM with access, or about to get it, is
//     disabled.
//  2. 1NCE lists it Disabled: likewise, and a revoked SIM's record learns the
//     status, so enabling it in 1NCE later issues a fresh certificate.
//  3. Enabled without an IP, or with an IP no device can have: skipped and
//     reported (ProblemNoIP, ProblemInvalidIP); its record is left as it is.
//  4. Enabled with an IP 1NCE also gives another Enabled SIM: the device at
//     that IP could be either, so neither gets credentials (ProblemIPConflict)
//     and one with access loses it.
//  5. Otherwise Enabled with a valid IP of its own: created when it has no
//     record, enabled again when its record is inactive (not when an
//     operator revoked it and 1NCE has not disabled it since: Held), moved
//     when its record holds another IP.

// 1NCE SIM status values.
const (
	OnceEnabled  = "Enabled"
	OnceDisabled = "Disabled"
)

// Problems: why a SIM 1NCE lists gets no change (counted and reported, never
// acted on).
const (
	ProblemNoIP           = "no_ip"
	ProblemInvalidIP      = "invalid_ip"
	ProblemInvalidICCID   = "invalid_iccid"
	ProblemInvalidStatus  = "invalid_status"
	ProblemDuplicateICCID = "duplicate_iccid"
	ProblemIPConflict     = "ip_conflict"
)

// Reasons recorded on the commands the rules decide.
const (
	ReasonNew        = "new SIM"
	ReasonReEnabled  = "SIM enabled again"
	ReasonIPChanged  = "IP address changed"
	ReasonDisabled   = "SIM disabled in 1NCE"
	ReasonAbsent     = "SIM no longer in the 1NCE account"
	ReasonIPConflict = "IP address claimed by several SIMs"
)

// Listed is a SIM as 1NCE lists it (or answers for it alone).
type Listed struct {
	ICCID  string
	Status string
	// IP is the address as 1NCE gives it, valid or not.
	IP string
}

// Decision is what the rules make of one SIM.
type Decision struct {
	// Change is the command to send (create, update, disable), "" for none.
	Change events.Kind
	// Reason says why (Reason*), for the command and for people.
	Reason string
	// Status is the 1NCE status the command carries ("" when 1NCE does not
	// hold the SIM).
	Status string
	// Problem says why an Enabled SIM gets no credentials (Problem*).
	Problem string
	// IP is the SIM's address normalised ("" when it has none or it is
	// invalid).
	IP string
	// Held is set for a SIM an operator revoked that 1NCE still enables: it
	// stays without access until 1NCE disables it (or `simbridge enable`).
	Held bool
}

// Grants reports whether the rules let the SIM have credentials at Decision.IP.
func (d Decision) Grants() bool {
	return d.Problem == "" && d.IP != "" && d.Change != events.KindDisable && d.Status == OnceEnabled
}

// Decide applies the rules to one SIM: sim is what 1NCE says (nil: the
// account does not hold it), rec its record (nil: none) and claimants the
// other SIMs 1NCE gives its IP as Enabled.
func Decide(sim *Listed, rec *Summary, claimants []string) Decision {
	switch {
	case sim == nil:
		if rec != nil && MayGainAccess(*rec) {
			return Decision{Change: events.KindDisable, Reason: ReasonAbsent}
		}
		return Decision{}
	case sim.Status == OnceDisabled:
		d := Decision{Status: OnceDisabled}
		if rec != nil && (MayGainAccess(*rec) || HeldRevoked(*rec)) {
			d.Change, d.Reason = events.KindDisable, ReasonDisabled
		}
		return d
	case sim.Status != OnceEnabled:
		return Decision{Status: sim.Status, Problem: ProblemInvalidStatus}
	}
	return decideEnabled(sim, rec, claimants)
}

func decideEnabled(sim *Listed, rec *Summary, claimants []string) Decision {
	d := Decision{Status: OnceEnabled}
	if sim.IP == "" {
		d.Problem = ProblemNoIP
		return d
	}
	ip, err := simip.Normalize(sim.IP) // ::ffff:10.1.2.3 is 10.1.2.3; IPv6 is invalid
	if err != nil {
		d.Problem = ProblemInvalidIP
		return d
	}
	d.IP = ip
	switch {
	case len(claimants) > 0:
		d.Problem = ProblemIPConflict
		if rec != nil && MayGainAccess(*rec) {
			d.Change, d.Reason = events.KindDisable, ReasonIPConflict
		}
	case rec == nil:
		d.Change, d.Reason = events.KindCreate, ReasonNew
	case HeldRevoked(*rec):
		d.Held = true
	case !rec.Active:
		d.Change, d.Reason = events.KindCreate, ReasonReEnabled
	case rec.IP != ip:
		d.Change, d.Reason = events.KindUpdate, ReasonIPChanged
	}
	return d
}

// MayGainAccess reports whether the SIM has access or may get it from a
// command still at work (a pending record): taking access away from such a
// SIM needs a disable.
func MayGainAccess(l Summary) bool { return l.Active || l.State == StatePending }

// HeldRevoked reports whether the SIM was revoked by an operator and 1NCE
// has not disabled it since: it stays without access until 1NCE disables
// and enables it again (a later enable issues a fresh certificate).
func HeldRevoked(l Summary) bool {
	return l.State == StateRevoked && l.Status != OnceDisabled
}
