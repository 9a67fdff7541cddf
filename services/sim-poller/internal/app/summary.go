package app

import (
	"time"

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
	Revoked          int    `json:"revoked,omitempty"`
	GuardRefused     bool   `json:"guard_refused,omitempty"`
	DisableLimit     int    `json:"disable_limit,omitempty"`
	DisablesWithheld int    `json:"disables_withheld,omitempty"`
	StoreActive      int    `json:"store_active"`
	StoreInactive    int    `json:"store_inactive"`
	Error            string `json:"error,omitempty"`
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
