package domain

import (
	"sort"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simrec"
)

// A SIM missing from a listing is not proof that it left the account: offset
// paging skips a SIM whenever another one is removed between two page
// requests, and the listing cannot tell. So an active SIM the listing did not
// contain is disabled only on proof from the single-SIM endpoint:
//
//  1. After the listing, PlanConfirmations names the absent active SIMs to
//     ask about, none when the listing was incomplete or the guard will
//     refuse anyway, and how many may turn out gone before the guard refuses
//     (so a run stops asking once it knows it will disable nothing).
//  2. The app asks 1NCE about each (I/O stays out of this package) and
//     records the answer with Confirm.
//  3. Finish disables the SIMs confirmed gone (404) or Disabled, keeps the
//     ones 1NCE says are Enabled (listing drift: the next run looks again) and
//     keeps, this run, those it could not ask about; the guard counts the
//     confirmed disables like any other.

// Verdict is what the single-SIM endpoint said about an absent SIM.
type Verdict int

// Verdicts, from "nothing known" to each answer 1NCE can give.
const (
	// VerdictUnknown means the SIM was not asked about, or asking failed: it
	// keeps its access this run.
	VerdictUnknown Verdict = iota
	// VerdictGone means the account does not hold the SIM (404): disable it.
	VerdictGone
	// VerdictDisabled means 1NCE has the SIM Disabled: disable it.
	VerdictDisabled
	// VerdictEnabled means 1NCE has the SIM Enabled and the listing missed
	// it (listing drift): keep it.
	VerdictEnabled
)

// VerdictFor turns the status 1NCE gives for a SIM it holds into a verdict;
// a status it does not document is no verdict.
func VerdictFor(status string) Verdict {
	switch status {
	case StatusEnabled:
		return VerdictEnabled
	case StatusDisabled:
		return VerdictDisabled
	default:
		return VerdictUnknown
	}
}

// ConfirmPlan says which absent SIMs to ask 1NCE about and when to stop.
type ConfirmPlan struct {
	// ICCIDs are the active SIMs the listing did not contain, sorted.
	ICCIDs []string
	// MaxDisables is how many of them may be confirmed gone or disabled
	// before the guard refuses the run; once more are, asking about the rest
	// changes nothing. Negative means no limit (a forced run).
	MaxDisables int
}

// PlanConfirmations returns the absent SIMs worth asking about under p.
func (r *Reconciler) PlanConfirmations(p Policy) ConfirmPlan {
	if !p.ListingComplete {
		return ConfirmPlan{}
	}
	if p.Force {
		return ConfirmPlan{ICCIDs: r.absent(), MaxDisables: -1}
	}
	room := r.disableLimit(p) - r.decidedDisables()
	if room < 0 || r.emptyListing() {
		return ConfirmPlan{}
	}
	return ConfirmPlan{ICCIDs: r.absent(), MaxDisables: room}
}

// Confirm records the single-SIM endpoint's verdict on an absent SIM; a SIM
// that is not absent (listed, inactive, unknown to the store) is ignored.
func (r *Reconciler) Confirm(iccid string, v Verdict) {
	if l, ok := r.summary(iccid); ok && simrec.MayGainAccess(l) && !r.seen(iccid) {
		r.verdicts[iccid] = v
	}
}

// seen reports whether the listing contained iccid.
func (r *Reconciler) seen(iccid string) bool {
	k, ok := events.KeyOf(iccid)
	return ok && r.t.flags(r.t.find(k))&flagSeen != 0
}

// absent lists the active SIMs the listing did not contain, sorted.
func (r *Reconciler) absent() []string {
	var out []string
	r.t.sort()
	for pos, s := range r.t.store {
		if s.e.flags&flagSeen == 0 && r.t.mayGainAccess(pos) {
			out = append(out, s.key.String())
		}
	}
	for id, l := range r.odd {
		if simrec.MayGainAccess(l) {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// confirmedDisables takes access away from the absent SIMs 1NCE confirmed
// gone or disabled, and counts the others in the report.
func (r *Reconciler) confirmedDisables() []events.SimCommand {
	var out []events.SimCommand
	for _, id := range r.absent() {
		l, _ := r.summary(id)
		r.report.Absent++
		switch r.verdicts[id] {
		case VerdictGone:
			out = append(out, disable(l, "", ReasonAbsent))
		case VerdictDisabled:
			out = append(out, disable(l, StatusDisabled, ReasonDisabled))
		case VerdictEnabled:
			r.report.Drift++
			if len(r.report.DriftExamples) < maxExamples {
				r.report.DriftExamples = append(r.report.DriftExamples, id)
			}
		default:
			r.report.Unconfirmed++
		}
	}
	return out
}
