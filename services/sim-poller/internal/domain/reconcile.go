package domain

import (
	"net/netip"
	"sort"

	"github.com/simbridge/simbridge/libs/events"
)

// Problem kinds counted in a Report.
const (
	ProblemNoIP           = "no_ip"
	ProblemInvalidIP      = "invalid_ip"
	ProblemInvalidICCID   = "invalid_iccid"
	ProblemInvalidStatus  = "invalid_status"
	ProblemDuplicateICCID = "duplicate_iccid"
	ProblemIPConflict     = "ip_conflict"
)

// Report summarises one reconciliation.
type Report struct {
	Seen      int
	Unchanged int
	// Problems counts SIMs skipped by kind; Examples keeps a few ICCIDs per kind for the operator.
	Problems map[string]int
	Examples map[string][]string
	// GuardRefused is set when disables were withheld by the mass-disable guard.
	GuardRefused bool
	// DisablesWithheld counts disables not published (failed listing or guard).
	DisablesWithheld int
}

const maxExamples = 5

func (r *Report) problem(kind, iccid string) {
	r.Problems[kind]++
	if len(r.Examples[kind]) < maxExamples {
		r.Examples[kind] = append(r.Examples[kind], iccid)
	}
}

// Reconciler compares a stream of 1NCE SIMs with the store. Feed every SIM to
// Observe, then call Finish once. Memory holds the store's summaries and the
// IPs seen, never the full 1NCE objects.
type Reconciler struct {
	local     map[string]*localEntry
	owner     map[netip.Addr]string   // ip -> first enabled SIM claiming it
	conflicts map[netip.Addr][]string // ip -> every claimant, only for shared IPs
	pending   map[string]Change       // candidate changes by ICCID
	seenNew   map[string]bool         // listed SIMs the store does not know
	report    Report
}

type localEntry struct {
	LocalSIM
	seen bool
}

// NewReconciler starts a reconciliation against the store's current state.
func NewReconciler(local []LocalSIM) *Reconciler {
	r := &Reconciler{
		local:     make(map[string]*localEntry, len(local)),
		owner:     map[netip.Addr]string{},
		conflicts: map[netip.Addr][]string{},
		pending:   map[string]Change{},
		seenNew:   map[string]bool{},
		report:    Report{Problems: map[string]int{}, Examples: map[string][]string{}},
	}
	for _, l := range local {
		r.local[l.ICCID] = &localEntry{LocalSIM: l}
	}
	return r
}

// AddLocal adds one store record; an alternative to passing all to NewReconciler.
func (r *Reconciler) AddLocal(l LocalSIM) { r.local[l.ICCID] = &localEntry{LocalSIM: l} }

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
		r.observeEnabled(s)
	case StatusDisabled:
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
	addr, err := netip.ParseAddr(s.IP)
	if err != nil {
		r.report.problem(ProblemInvalidIP, s.ICCID)
		return
	}
	r.claim(addr, s.ICCID)
	ip := addr.String()
	l, known := r.local[s.ICCID]
	change := Change{ICCID: s.ICCID, IP: ip, Status: s.Status}
	switch {
	case !known:
		change.Kind, change.Reason = events.KindCreate, ReasonNew
	case !l.Active:
		change.Kind, change.Reason, change.BaseVersion = events.KindCreate, ReasonReEnabled, l.Version
	case l.IP != ip:
		change.Kind, change.Reason, change.BaseVersion = events.KindUpdate, ReasonIPChanged, l.Version
	default:
		r.report.Unchanged++
		return
	}
	r.pending[s.ICCID] = change
}

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

func (r *Reconciler) observeDisabled(s RemoteSIM) {
	l, known := r.local[s.ICCID]
	if !known || !l.Active {
		r.report.Unchanged++
		return
	}
	r.pending[s.ICCID] = Change{Kind: events.KindDisable, ICCID: s.ICCID, IP: l.IP, Status: s.Status, Reason: ReasonDisabled, BaseVersion: l.Version}
}

// Policy bounds what Finish may publish.
type Policy struct {
	// ListingComplete is false when the listing failed or was cut short: then
	// no disable is published at all.
	ListingComplete bool
	// MaxDisableShare is the largest share of active SIMs one run may disable (0-1).
	MaxDisableShare float64
	// DisableAllowance is a number of disables always allowed, so small fleets can lose a SIM.
	DisableAllowance int
	// Force lets an operator override the guard.
	Force bool
}

// Finish returns the changes to publish, sorted by ICCID, and the report.
func (r *Reconciler) Finish(p Policy) ([]Change, Report) {
	var ups, downs []Change
	conflicted := r.conflictedICCIDs()
	for iccid, c := range r.pending {
		switch {
		case conflicted[iccid]:
			continue
		case c.Kind == events.KindDisable:
			downs = append(downs, c)
		default:
			ups = append(ups, c)
		}
	}
	downs = append(downs, r.conflictDisables(conflicted)...)
	downs = append(downs, r.absentDisables()...)
	downs = r.guard(downs, p)
	changes := append(ups, downs...)
	sort.Slice(changes, func(i, j int) bool { return changes[i].ICCID < changes[j].ICCID })
	return changes, r.report
}

// conflictedICCIDs returns the SIMs sharing an IP with another listed SIM:
// none of them may get credentials, so none is created or updated.
func (r *Reconciler) conflictedICCIDs() map[string]bool {
	out := map[string]bool{}
	for _, iccids := range r.conflicts {
		for _, id := range iccids {
			if !out[id] {
				r.report.problem(ProblemIPConflict, id)
			}
			out[id] = true
		}
	}
	return out
}

// conflictDisables takes access away from active SIMs caught in an IP
// conflict, since the device at that IP could be either SIM.
func (r *Reconciler) conflictDisables(conflicted map[string]bool) []Change {
	var out []Change
	for id := range conflicted {
		if l, ok := r.local[id]; ok && l.Active {
			out = append(out, Change{Kind: events.KindDisable, ICCID: id, IP: l.IP, Status: StatusEnabled, Reason: ReasonIPConflict, BaseVersion: l.Version})
		}
	}
	return out
}

func (r *Reconciler) absentDisables() []Change {
	var out []Change
	for _, l := range r.local {
		if l.Active && !l.seen {
			out = append(out, Change{Kind: events.KindDisable, ICCID: l.ICCID, IP: l.IP, Reason: ReasonAbsent, BaseVersion: l.Version})
		}
	}
	return out
}

// guard withholds every disable when the listing is not trustworthy or the
// run would disable more than the policy allows.
func (r *Reconciler) guard(downs []Change, p Policy) []Change {
	if len(downs) == 0 {
		return nil
	}
	if !p.ListingComplete {
		r.report.DisablesWithheld = len(downs)
		return nil
	}
	if p.Force {
		return downs
	}
	active := 0
	for _, l := range r.local {
		if l.Active {
			active++
		}
	}
	limit := max(int(p.MaxDisableShare*float64(active)), p.DisableAllowance)
	emptyListing := r.report.Seen == 0 && active > 0
	if len(downs) > limit || emptyListing {
		r.report.GuardRefused = true
		r.report.DisablesWithheld = len(downs)
		return nil
	}
	return downs
}
