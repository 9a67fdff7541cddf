package domain

import (
	"net/netip"
	"sort"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simrec"
)

// Reconciler compares a stream of 1NCE SIMs with the store. Feed every store
// record to AddLocal and every listed SIM to Observe, then call Finish once.
// Memory holds a compact entry per SIM (index.go) and one per listed IP,
// never the 1NCE objects, and every lookup is a map access.
//
// A full sync of a large account does not wait for the whole listing: after
// each page, Release hands out the creates and updates that no later page
// can make wrong, so the first commands leave while 1NCE is still listing:
//
//  1. A create or update is held back while its SIM shares its IP with
//     another listed SIM (an IP conflict: neither may get credentials), and
//     while an active record of a SIM the listing has not reached yet holds
//     that IP (it may have moved away, or may claim it too: only the rest of
//     the listing says). Finish decides those.
//  2. Disables always wait for Finish: only a complete listing may take
//     access away, and the mass-disable guard counts them all.
//  3. When a later page shows that a released SIM shares its IP after all,
//     Finish counts the conflict and LateConflicts names the SIM: the app
//     takes its access away once the released command has landed
//     (its record says what to build the disable on).
type Reconciler struct {
	t *table
	// odd are records whose ICCID has no packed key (never valid ones).
	odd map[string]simrec.Summary
	// owner holds the IPs listed SIMs claim, except a SIM's claim of its
	// own record's IP (flagClaimsOwn: the table has it already, so an
	// unchanged fleet adds nothing here).
	owner     map[uint32]events.ICCIDKey
	conflicts map[uint32][]string          // ip -> every claimant, only for shared IPs
	pending   map[string]events.SimCommand // candidate commands by ICCID
	verdicts  map[string]Verdict           // absent SIMs confirmed by the single-SIM endpoint
	late      []LateConflict
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
	_, s.Recorded = r.summary(s.ICCID)
	r.report.problem(s.Problem, s.ICCID)
	if len(r.skipped) < r.KeepSkipped {
		r.skipped = append(r.skipped, s)
	}
}

// NewReconciler starts a reconciliation against the store's current state.
func NewReconciler(local []simrec.Summary) *Reconciler {
	r := &Reconciler{
		t:         newTable(),
		odd:       map[string]simrec.Summary{},
		owner:     map[uint32]events.ICCIDKey{},
		conflicts: map[uint32][]string{},
		pending:   map[string]events.SimCommand{},
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
func (r *Reconciler) AddLocal(l simrec.Summary) {
	k, e, x, ok := pack(l)
	if !ok {
		r.odd[l.ICCID] = l
		return
	}
	r.t.add(k, e, x)
}

// summary returns the record of iccid, if the store holds one.
func (r *Reconciler) summary(iccid string) (simrec.Summary, bool) {
	k, ok := events.KeyOf(iccid)
	if !ok {
		l, found := r.odd[iccid]
		return l, found
	}
	if ref := r.t.find(k); ref.found && ref.pos >= 0 {
		return r.t.record(ref.pos), true
	}
	return simrec.Summary{}, false
}

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
	local, known := r.summary(s.ICCID)
	var rec *simrec.Summary
	if known {
		rec = &local
	}
	d := simrec.Decide(s.listed(), rec, nil)
	if ip, ok := ipv4(d.IP); ok {
		r.claim(ip, s.ICCID)
	}
	switch {
	case d.Problem != "":
		r.skip(Skip{ICCID: s.ICCID, Problem: d.Problem, IP: s.IP})
	case d.Held:
		r.report.Revoked++
	case d.Change == "":
		r.report.Unchanged++
	default:
		r.pending[s.ICCID] = command(s, rec, d)
	}
}

// markSeen records the ICCID and reports whether it was already listed; a
// duplicated ICCID is ambiguous, so it gets no change at all (one already
// released stays released: a SIM listed twice is listed with the same data,
// and the listing is incomplete, so nothing is disabled this run).
func (r *Reconciler) markSeen(iccid string) bool {
	k, _ := events.KeyOf(iccid)
	ref := r.t.find(k)
	if r.t.flags(ref)&flagSeen == 0 {
		r.t.mark(ref, flagSeen)
		return false
	}
	r.skip(Skip{ICCID: iccid, Problem: ProblemDuplicateICCID})
	delete(r.pending, iccid)
	return true
}

// claim records that iccid says it has addr; a second claimant makes every
// claimant of addr conflicted.
func (r *Reconciler) claim(ip uint32, iccid string) {
	k, _ := events.KeyOf(iccid)
	ref := r.t.find(k)
	if len(r.conflicts[ip]) > 0 {
		r.conflicts[ip] = append(r.conflicts[ip], iccid)
		return
	}
	first, taken := r.owner[ip]
	if !taken {
		// A record at ip whose SIM was listed there before claims it too.
		r.t.holders(ip, func(pos int) bool {
			if r.t.store[pos].key != k && r.t.store[pos].e.flags&flagClaimsOwn != 0 {
				first, taken = r.t.store[pos].key, true
				return false
			}
			return true
		})
	}
	if taken {
		r.conflicts[ip] = []string{first.String(), iccid}
		return
	}
	if ref.pos >= 0 && r.t.store[ref.pos].e.ip == ip && r.t.mayGainAccess(ref.pos) {
		// The table's IP index finds this claim (it indexes the records
		// that may have access), so the claims map need not hold it.
		r.t.mark(ref, flagClaimsOwn)
		return
	}
	r.owner[ip] = k
}

// Release returns the creates and updates decided so far that no later page
// can make wrong (see Reconciler), in ICCID order, and forgets them: the
// caller publishes them now. Finish returns the rest.
func (r *Reconciler) Release() []events.SimCommand {
	var out []events.SimCommand
	for iccid, c := range r.pending {
		if c.Kind == events.KindDisable || !r.releasable(c) {
			continue
		}
		k, _ := events.KeyOf(iccid)
		r.t.mark(r.t.find(k), flagReleased)
		delete(r.pending, iccid)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ICCID < out[j].ICCID })
	return out
}

// releasable reports whether c's IP is claimed by its SIM alone so far and
// held by no record of a SIM the listing has not reached.
func (r *Reconciler) releasable(c events.SimCommand) bool {
	ip, _ := ipv4(c.IP)
	if len(r.conflicts[ip]) > 0 {
		return false
	}
	self, _ := events.KeyOf(c.ICCID)
	free := true
	r.t.holders(ip, func(pos int) bool {
		s := r.t.store[pos]
		free = s.key == self || s.e.flags&flagSeen != 0
		return free
	})
	return free
}

// released reports whether a create or update of iccid was released.
func (r *Reconciler) released(iccid string) bool {
	k, ok := events.KeyOf(iccid)
	return ok && r.t.flags(r.t.find(k))&flagReleased != 0
}

// Conflicts returns the IPs the listing gave several Enabled SIMs, with
// those SIMs (sorted): what targeted syncs must remember until 1NCE is
// corrected (their lookups see one SIM at a time).
func (r *Reconciler) Conflicts() map[string][]string {
	out := make(map[string][]string, len(r.conflicts))
	for ip, ids := range r.conflicts {
		out[ipString(ip)] = sortedKeys(setOf(ids))
	}
	return out
}

func ipString(ip uint32) string { return netip.AddrFrom4(ip4bytes(ip)).String() }

func setOf(ids []string) map[string]bool {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}
