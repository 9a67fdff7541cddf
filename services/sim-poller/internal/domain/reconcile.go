package domain

import (
	"net/netip"

	"github.com/simbridge/simbridge/libs/events"
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
	// KeepSkipped bounds the skipped SIMs Skipped returns (0: none are
	// kept, only counted): a dry run or a targeted sync says SIM by SIM
	// why one got nothing.
	KeepSkipped int
	skipped     []Skip
}

// Skip is one listed SIM the rules skipped, and why.
type Skip struct {
	ICCID   string
	Problem string
	// IP is the address as 1NCE gave it.
	IP string
	// Claimants are the other SIMs listed at the IP (ProblemIPConflict).
	Claimants []string
	// Recorded says the store holds a record of the SIM.
	Recorded bool
}

// Skipped returns the skipped SIMs kept (KeepSkipped), in the order met.
func (r *Reconciler) Skipped() []Skip { return r.skipped }

func (r *Reconciler) skip(s Skip) {
	_, s.Recorded = r.local[s.ICCID]
	r.report.problem(s.Problem, s.ICCID)
	if len(r.skipped) < r.KeepSkipped {
		r.skipped = append(r.skipped, s)
	}
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

// Observe takes one SIM of the 1NCE listing and decides it by the rules
// (simrec.Decide); its IP conflicts are known, and decided, at Finish.
func (r *Reconciler) Observe(s RemoteSIM) {
	r.report.Seen++
	if !events.ValidICCID(s.ICCID) {
		r.skip(Skip{ICCID: s.ICCID, Problem: ProblemInvalidICCID, IP: s.IP})
		return
	}
	if r.markSeen(s.ICCID) {
		return
	}
	switch s.Status {
	case StatusEnabled:
		r.report.Enabled++
	case StatusDisabled:
		r.report.Disabled++
	}
	local := r.summary(s.ICCID)
	d := simrec.Decide(s.listed(), local, nil)
	if d.IP != "" {
		r.claim(netip.MustParseAddr(d.IP), s.ICCID)
	}
	switch {
	case d.Problem != "":
		r.skip(Skip{ICCID: s.ICCID, Problem: d.Problem, IP: s.IP})
	case d.Held:
		r.report.Revoked++
	case d.Change == "":
		r.report.Unchanged++
	default:
		r.pending[s.ICCID] = command(s, local, d)
	}
}

// summary is the store's record of iccid (nil: none).
func (r *Reconciler) summary(iccid string) *simrec.Summary {
	if l, ok := r.local[iccid]; ok {
		return &l.Summary
	}
	return nil
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
	r.skip(Skip{ICCID: iccid, Problem: ProblemDuplicateICCID})
	delete(r.pending, iccid)
	return true
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

// Conflicts returns the IPs the listing gave several Enabled SIMs, with
// those SIMs (sorted): what targeted syncs must remember until 1NCE is
// corrected (their lookups see one SIM at a time).
func (r *Reconciler) Conflicts() map[string][]string {
	out := make(map[string][]string, len(r.conflicts))
	for addr, ids := range r.conflicts {
		out[addr.String()] = sortedKeys(setOf(ids))
	}
	return out
}

func setOf(ids []string) map[string]bool {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}
