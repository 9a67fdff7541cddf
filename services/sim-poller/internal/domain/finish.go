package domain

import (
	"sort"

	"github.com/simbridge/simbridge/libs/events"
)

// Policy bounds what Finish may publish.
type Policy struct {
	// ListingComplete is false when the listing failed or was cut short: then
	// no disable is published at all.
	ListingComplete bool
	// MaxDisableShare is the largest share of active SIMs one run may disable (0-1).
	MaxDisableShare float64
	// DisableAllowance is a number of disables always allowed, so small fleets can lose a SIM.
	DisableAllowance int
	// Force lets an operator override the guard (never an incomplete listing).
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

// absentDisables takes access away from active SIMs the listing did not contain.
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
	active := r.activeCount()
	limit := max(int(p.MaxDisableShare*float64(active)), p.DisableAllowance)
	emptyListing := r.report.Seen == 0 && active > 0
	if len(downs) > limit || emptyListing {
		r.report.GuardRefused = true
		r.report.DisablesWithheld = len(downs)
		return nil
	}
	return downs
}

func (r *Reconciler) activeCount() int {
	n := 0
	for _, l := range r.local {
		if l.Active {
			n++
		}
	}
	return n
}
