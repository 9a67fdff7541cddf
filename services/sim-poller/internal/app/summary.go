package app

import (
	"time"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/services/sim-poller/internal/domain"
)

// Summary is what a run did; POST /sync answers with it and the metrics and
// logs are derived from it.
type Summary struct {
	StartedAt       time.Time `json:"started_at"`
	DurationSeconds float64   `json:"duration_seconds"`
	// Complete is false when the listing failed or did not add up (no disables then).
	Complete bool `json:"listing_complete"`
	// Interrupted is set when the run stopped early (shutdown, deadline);
	// nothing more was published after that.
	Interrupted bool `json:"interrupted,omitempty"`
	Pages       int  `json:"pages"`
	// Listed counts the SIMs 1NCE listed; Enabled and Disabled those with a
	// valid ICCID by status.
	Listed    int `json:"listed"`
	Enabled   int `json:"listed_enabled"`
	Disabled  int `json:"listed_disabled"`
	Unchanged int `json:"unchanged"`
	// Published counts the commands sent, by kind (create, update, disable).
	Published map[string]int `json:"published"`
	// Superseded counts changes not sent because a targeted sync (a Data
	// Streamer hint) handled the SIM after this run began.
	Superseded int `json:"superseded,omitempty"`
	// Rebased counts changes not sent because the SIM's record, read again
	// before publishing, no longer needed them (it moved on since the scan).
	Rebased int `json:"rebased,omitempty"`
	// FirstCommandSeconds is how long after the start the first command
	// left: creates and updates go out while 1NCE is still listing.
	FirstCommandSeconds float64 `json:"first_command_seconds,omitempty"`
	// Problems counts skipped SIMs by reason, with a few example ICCIDs each.
	Problems        map[string]int      `json:"problems,omitempty"`
	ProblemExamples map[string][]string `json:"problem_examples,omitempty"`
	// Absent counts active SIMs the listing did not contain; each is disabled
	// only once 1NCE's single-SIM endpoint confirms it is gone or Disabled.
	// Drift counts those 1NCE still has Enabled (kept: the listing missed
	// them), Unconfirmed those not asked about or whose answer failed (kept
	// this run).
	Absent        int      `json:"absent"`
	Drift         int      `json:"drift"`
	DriftExamples []string `json:"drift_examples,omitempty"`
	Unconfirmed   int      `json:"unconfirmed,omitempty"`
	// Revoked counts SIMs held without access after an operator's revoke.
	Revoked          int  `json:"revoked,omitempty"`
	GuardRefused     bool `json:"guard_refused,omitempty"`
	DisableLimit     int  `json:"disable_limit,omitempty"`
	DisablesWithheld int  `json:"disables_withheld,omitempty"`
	// DryRun is set on a Plan: nothing was published. Planned counts the
	// commands it would have sent, by kind; PlannedSIMs lists them and the
	// SIMs the rules skip (all but SIMs without IP that have no record),
	// the first events.MaxLookupICCIDs of them; PlannedOmitted counts the
	// rest.
	DryRun         bool                `json:"dry_run,omitempty"`
	Planned        map[string]int      `json:"planned,omitempty"`
	PlannedSIMs    []events.SIMOutcome `json:"planned_sims,omitempty"`
	PlannedOmitted int                 `json:"planned_omitted,omitempty"`
	StoreActive    int                 `json:"store_active"`
	StoreInactive  int                 `json:"store_inactive"`
	Error          string              `json:"error,omitempty"`
	// invalid is Problems without the expected kinds (no IP): what to report.
	invalid map[string]int
}

func (s *Summary) record(r domain.Report) {
	s.Listed, s.Enabled, s.Disabled, s.Unchanged = r.Seen, r.Enabled, r.Disabled, r.Unchanged
	s.Problems, s.ProblemExamples = r.Problems, r.Examples
	s.Absent, s.Drift, s.DriftExamples, s.Unconfirmed = r.Absent, r.Drift, r.DriftExamples, r.Unconfirmed
	s.Revoked = r.Revoked
	s.GuardRefused, s.DisableLimit, s.DisablesWithheld = r.GuardRefused, r.DisableLimit, r.DisablesWithheld
	s.invalid = r.Invalid()
}

// plan fills the dry run's Planned and PlannedSIMs: one line per SIM, the
// change it would get and, for a skipped one, why.
func (s *Summary) plan(changes []events.SimCommand, skips []domain.Skip) {
	s.Planned = map[string]int{}
	at := map[string]int{}
	add := func(o events.SIMOutcome) {
		if i, ok := at[o.ICCID]; ok {
			s.PlannedSIMs[i].Problem, s.PlannedSIMs[i].Claimants = o.Problem, o.Claimants
			return
		}
		if len(s.PlannedSIMs) >= events.MaxLookupICCIDs {
			s.PlannedOmitted++
			return
		}
		at[o.ICCID] = len(s.PlannedSIMs)
		s.PlannedSIMs = append(s.PlannedSIMs, o)
	}
	for _, c := range changes {
		s.Planned[string(c.Kind)]++
		add(events.SIMOutcome{ICCID: c.ICCID, Found: c.Reason != domain.ReasonAbsent, Status: c.Status, IP: c.IP,
			Outcome: string(c.Kind), Reason: c.Reason, IMSI: c.IMSI, MSISDN: c.MSISDN, Label: c.Label})
	}
	for _, sk := range skips {
		if sk.Problem == domain.ProblemNoIP && !sk.Recorded {
			continue // not attached yet: counted in Problems
		}
		o := events.SIMOutcome{ICCID: sk.ICCID, Found: true, IP: sk.IP, Outcome: events.OutcomeSkipped,
			Problem: sk.Problem, Claimants: sk.Claimants, Reason: skipReason(sk)}
		switch sk.Problem {
		case domain.ProblemNoIP, domain.ProblemInvalidIP, domain.ProblemIPConflict:
			o.Status = domain.StatusEnabled
		}
		add(o)
	}
}
