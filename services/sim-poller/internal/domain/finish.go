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

// Finish returns the commands to publish, sorted by ICCID, and the report.
// Absent SIMs are disabled only as far as Confirm proved them gone.
func (r *Reconciler) Finish(p Policy) ([]events.SimCommand, Report) {
	conflicted := r.conflictedICCIDs()
	for _, c := range r.conflictSkips() {
		r.skip(c)
	}
	ups, downs := r.pendingChanges(conflicted)
	downs = append(downs, r.conflictDisables()...)
	downs = append(downs, r.confirmedDisables()...)
	r.report.DisableLimit = r.disableLimit(p)
	downs = r.guard(downs, p)
	changes := append(ups, downs...)
	sort.Slice(changes, func(i, j int) bool { return changes[i].ICCID < changes[j].ICCID })
	return changes, r.report
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
// device at that IP could be either SIM.
func (r *Reconciler) conflictDisables() []events.SimCommand {
	var out []events.SimCommand
	for addr, ids := range r.conflicts {
		for _, id := range ids {
			local := r.summary(id)
			sim := RemoteSIM{ICCID: id, Status: StatusEnabled, IP: addr.String()}
			if d := simrec.Decide(sim.listed(), local, others(ids, id)); d.Change != "" {
				out = append(out, command(sim, local, d))
			}
		}
	}
	return out
}

// conflictSkips are the conflicted SIMs, sorted, each with its claimants.
func (r *Reconciler) conflictSkips() []Skip {
	var out []Skip
	for addr, ids := range r.conflicts {
		for _, id := range ids {
			out = append(out, Skip{ICCID: id, Problem: ProblemIPConflict, IP: addr.String(), Claimants: others(ids, id)})
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
	return len(downs) + len(r.conflictDisables())
}

// guard withholds every disable when the listing is not trustworthy, or the
// run would disable more than the policy allows, or 1NCE listed nothing while
// the store holds active SIMs (an empty answer is an outage, not a fleet that
// left).
func (r *Reconciler) guard(downs []events.SimCommand, p Policy) []events.SimCommand {
	if !p.ListingComplete {
		r.report.DisablesWithheld = len(downs)
		return nil
	}
	if p.Force {
		return downs
	}
	if len(downs) > r.disableLimit(p) || r.emptyListing() {
		r.report.GuardRefused = true
		r.report.DisablesWithheld = len(downs)
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
	n := 0
	for _, l := range r.local {
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
