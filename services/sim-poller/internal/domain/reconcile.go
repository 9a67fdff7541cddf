package domain

import (
	"net/netip"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simip"
	"github.com/simbridge/simbridge/libs/simrec"
)

// Reconciler compares a stream of 1NCE SIMs with the store. Feed every store
// record to AddLocal and every listed SIM to Observe, then call Finish once.
// Memory holds the store's summaries and one entry per listed IP, never the
// full 1NCE objects, and every lookup is a map access: no O(n·m) comparison.
type Reconciler struct {
	local     map[string]localEntry
	owner     map[netip.Addr]string        // ip -> first enabled SIM claiming it
	conflicts map[netip.Addr][]string      // ip -> every claimant, only for shared IPs
	pending   map[string]events.SimCommand // candidate commands by ICCID
	seenNew   map[string]bool              // listed SIMs the store does not know
	verdicts  map[string]Verdict           // absent SIMs confirmed by the single-SIM endpoint
	report    Report
}

type localEntry struct {
	simrec.Summary
	seen bool
}

// NewReconciler starts a reconciliation against the store's current state.
func NewReconciler(local []simrec.Summary) *Reconciler {
	r := &Reconciler{
		local:     make(map[string]localEntry, len(local)),
		owner:     map[netip.Addr]string{},
		conflicts: map[netip.Addr][]string{},
		pending:   map[string]events.SimCommand{},
		seenNew:   map[string]bool{},
		verdicts:  map[string]Verdict{},
		report:    newReport(),
	}
	for _, l := range local {
		r.AddLocal(l)
	}
	return r
}

// AddLocal adds one store record, so a store scan can stream into the
// reconciler instead of building a slice first.
func (r *Reconciler) AddLocal(l simrec.Summary) { r.local[l.ICCID] = localEntry{Summary: l} }

// Observe takes one SIM of the 1NCE listing.
func (r *Reconciler) Observe(s RemoteSIM) {
	r.report.Seen++
	if !events.ValidICCID(s.ICCID) {
		r.report.problem(ProblemInvalidICCID, s.ICCID)
		return
	}
	if r.markSeen(s.ICCID) {
		return
	}
	switch s.Status {
	case StatusEnabled:
		r.report.Enabled++
		r.observeEnabled(s)
	case StatusDisabled:
		r.report.Disabled++
		r.observeDisabled(s)
	default:
		r.report.problem(ProblemInvalidStatus, s.ICCID)
	}
}

// markSeen records the ICCID and reports whether it was already listed; a
// duplicated ICCID is ambiguous, so it gets no change at all.
func (r *Reconciler) markSeen(iccid string) bool {
	if l, known := r.local[iccid]; known && !l.seen {
		l.seen = true
		r.local[iccid] = l
		return false
	} else if !known && !r.seenNew[iccid] {
		r.seenNew[iccid] = true
		return false
	}
	r.report.problem(ProblemDuplicateICCID, iccid)
	delete(r.pending, iccid)
	return true
}

func (r *Reconciler) observeEnabled(s RemoteSIM) {
	if s.IP == "" {
		r.report.problem(ProblemNoIP, s.ICCID)
		return
	}
	addr, err := simip.Parse(s.IP) // ::ffff:10.1.2.3 is 10.1.2.3; IPv6 is invalid
	if err != nil {
		r.report.problem(ProblemInvalidIP, s.ICCID)
		return
	}
	r.claim(addr, s.ICCID)
	ip := addr.String()
	l, known := r.local[s.ICCID]
	cmd := events.SimCommand{ICCID: s.ICCID, IP: ip, Status: s.Status, IMSI: s.IMSI, MSISDN: s.MSISDN, Label: s.Label}
	switch {
	case !known:
		cmd.Kind, cmd.Reason = events.KindCreate, ReasonNew
	case heldRevoked(l.Summary):
		r.report.Revoked++
		return
	case !l.Active:
		cmd.Kind, cmd.Reason, cmd.BaseVersion, cmd.BaseCommand = events.KindCreate, ReasonReEnabled, l.Version, l.LastCommand
	case l.IP != ip:
		cmd.Kind, cmd.Reason, cmd.BaseVersion, cmd.BaseCommand = events.KindUpdate, ReasonIPChanged, l.Version, l.LastCommand
	default:
		r.report.Unchanged++
		return
	}
	r.pending[s.ICCID] = cmd
}

// claim records that iccid says it has addr; a second claimant makes every
// claimant of addr conflicted.
func (r *Reconciler) claim(addr netip.Addr, iccid string) {
	first, taken := r.owner[addr]
	switch {
	case !taken:
		r.owner[addr] = iccid
	case len(r.conflicts[addr]) == 0:
		r.conflicts[addr] = []string{first, iccid}
	default:
		r.conflicts[addr] = append(r.conflicts[addr], iccid)
	}
}

// observeDisabled disables a SIM 1NCE lists as Disabled that has access or
// may get it (a pending record: a create still at work must not finish it),
// and records the status on a revoked SIM, so enabling it in 1NCE later
// issues a fresh certificate.
func (r *Reconciler) observeDisabled(s RemoteSIM) {
	l, known := r.local[s.ICCID]
	if !known || !(mayGainAccess(l.Summary) || heldRevoked(l.Summary)) {
		r.report.Unchanged++
		return
	}
	r.pending[s.ICCID] = disable(l.Summary, s.Status, ReasonDisabled)
}
