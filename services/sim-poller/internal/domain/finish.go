package domain

import (
	"sort"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simrec"
)

// Policy bounds what Finish may publish.
type Policy struct {
	// ListingComplete is false when the listing failed or did not add up:
	// then no disable is published at all.
	ListingComplete bool
	// MaxDisableShare is the largest share of active SIMs one run may disable (0-1).
	MaxDisableShare float64
	// DisableAllowance is a number of disables always allowed, so small fleets can lose a SIM.
	DisableAllowance int
	// Force lets an operator override the guard (never an incomplete listing).
	Force bool
}

// Finish returns the commands to publish that Release did not hand out,
// sorted by ICCID, and the report. Absent SIMs are disabled only as far as
// Confirm proved them gone. Released SIMs that turned out to share their IP
// are named by LateConflicts afterwards, unless disables were withheld.
func (r *Reconciler) Finish(p Policy) ([]events.SimCommand, Report) {
	conflicted := r.conflictedICCIDs()
	for _, c := range r.conflictSkips() {
		r.skip(c)
	}
	ups, downs := r.pendingChanges(conflicted)
	downs = append(downs, r.conflictDisables()...)
	downs = append(downs, r.confirmedDisables()...)
	late := r.lateConflicts(conflicted)
	r.report.DisableLimit = r.disableLimit(p)
	if downs = r.guard(downs, len(late), p); downs != nil || r.report.DisablesWithheld == 0 {
		r.late = late
	}
	changes := append(ups, downs...)
	sort.Slice(changes, func(i, j int) bool { return changes[i].ICCID < changes[j].ICCID })
	return changes, r.report
}

// LateConflict is a SIM whose create or update was released before a later
// page showed another SIM with the same IP: none of them may keep
// credentials, so the caller disables it once the released command has
// written its record. Version is the record's version when the run began
// (0: the SIM had no record, the released command is its first create).
type LateConflict struct {
	ICCID   string
	Version int64
	// IP is the address the listing gave it and others.
	IP string
}

// LateConflicts names, after Finish, the late conflicts to disable; none when
// the run's disables were withheld (an incomplete listing, the guard).
func (r *Reconciler) LateConflicts() []LateConflict { return r.late }

// lateConflicts lists the released SIMs caught in a conflict, sorted.
func (r *Reconciler) lateConflicts(map[string]bool) []LateConflict {
	var out []LateConflict
	for ip, ids := range r.conflicts {
		for _, id := range ids {
			if r.released(id) {
				l, _ := r.summary(id)
				out = append(out, LateConflict{ICCID: id, Version: l.Version, IP: ipString(ip)})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ICCID < out[j].ICCID })
	return out
}

// pendingChanges splits the listed SIMs' changes into ups (create, update)
// and downs (disable), leaving out conflicted SIMs.
func (r *Reconciler) pendingChanges(conflicted map[string]bool) (ups, downs []events.SimCommand) {
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
	return ups, downs
}

// conflictedICCIDs returns the SIMs sharing an IP with another listed SIM:
// none of them may get credentials, so none is created or updated.
func (r *Reconciler) conflictedICCIDs() map[string]bool {
	out := map[string]bool{}
	for _, iccids := range r.conflicts {
		for _, id := range iccids {
			out[id] = true
		}
	}
	return out
}

// conflictDisables decides the SIMs caught in an IP conflict with their
// claimants known (simrec.Decide): one with access loses it, since the
// device at that IP could be either SIM (released ones are LateConflicts).
func (r *Reconciler) conflictDisables() []events.SimCommand {
	var out []events.SimCommand
	for ip, ids := range r.conflicts {
		for _, id := range ids {
			if r.released(id) {
				continue
			}
			var rec *simrec.Summary
			if l, ok := r.summary(id); ok {
				rec = &l
			}
			sim := RemoteSIM{ICCID: id, Status: StatusEnabled, IP: ipString(ip)}
			if d := simrec.Decide(sim.listed(), rec, others(ids, id)); d.Change != "" {
				out = append(out, command(sim, rec, d))
			}
		}
	}
	return out
}

// conflictSkips are the conflicted SIMs, sorted, each with its claimants.
func (r *Reconciler) conflictSkips() []Skip {
	var out []Skip
	for ip, ids := range r.conflicts {
		for _, id := range ids {
			out = append(out, Skip{ICCID: id, Problem: ProblemIPConflict, IP: ipString(ip), Claimants: others(ids, id)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ICCID < out[j].ICCID })
	return out
}

// others is ids without id.
func others(ids []string, id string) []string {
	var out []string
	for _, o := range ids {
		if o != id {
			out = append(out, o)
		}
	}
	return out
}

// decidedDisables counts the disables the listing alone decided (SIMs listed
// as Disabled, SIMs in an IP conflict), before any absent SIM is confirmed.
func (r *Reconciler) decidedDisables() int {
	conflicted := r.conflictedICCIDs()
	_, downs := r.pendingChanges(conflicted)
	return len(downs) + len(r.conflictDisables()) + len(r.lateConflicts(conflicted))
}

// guard withholds every disable when the listing is not trustworthy, or the
// run would disable more than the policy allows, or 1NCE listed nothing while
// the store holds active SIMs (an empty answer is an outage, not a fleet that
// left).
// late counts the disables LateConflicts will ask for.
func (r *Reconciler) guard(downs []events.SimCommand, late int, p Policy) []events.SimCommand {
	if !p.ListingComplete {
		r.report.DisablesWithheld = len(downs) + late
		return nil
	}
	if p.Force {
		return downs
	}
	if len(downs)+late > r.disableLimit(p) || r.emptyListing() {
		r.report.GuardRefused = true
		r.report.DisablesWithheld = len(downs) + late
		return nil
	}
	return downs
}

// disableLimit is how many SIMs one run may disable under p.
func (r *Reconciler) disableLimit(p Policy) int {
	return max(int(p.MaxDisableShare*float64(r.activeCount())), p.DisableAllowance)
}

// emptyListing reports a listing of nothing while the store holds active SIMs.
func (r *Reconciler) emptyListing() bool {
	return r.report.Seen == 0 && r.activeCount() > 0
}

func (r *Reconciler) activeCount() int {
	r.t.sort()
	n := 0
	for _, s := range r.t.store {
		if s.e.flags&flagActive != 0 {
			n++
		}
	}
	for _, l := range r.odd {
		if l.Active {
			n++
		}
	}
	return n
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
