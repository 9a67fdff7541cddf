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
	// Complete is false when the listing failed or was cut short (no disables then).
	Complete bool `json:"listing_complete"`
	Pages    int  `json:"pages"`
	// Listed counts the SIMs 1NCE listed; Enabled and Disabled those with a
	// valid ICCID by status.
	Listed    int `json:"listed"`
	Enabled   int `json:"listed_enabled"`
	Disabled  int `json:"listed_disabled"`
	Unchanged int `json:"unchanged"`
	// Published counts the commands sent, by kind (create, update, disable).
	Published map[string]int `json:"published"`
	// Problems counts skipped SIMs by reason, with a few example ICCIDs each.
	Problems         map[string]int      `json:"problems,omitempty"`
	ProblemExamples  map[string][]string `json:"problem_examples,omitempty"`
	GuardRefused     bool                `json:"guard_refused,omitempty"`
	DisablesWithheld int                 `json:"disables_withheld,omitempty"`
	StoreActive      int                 `json:"store_active"`
	StoreInactive    int                 `json:"store_inactive"`
	Error            string              `json:"error,omitempty"`
	// invalid is Problems without the expected kinds (no IP): what to report.
	invalid map[string]int
}

func (s *Summary) record(r domain.Report) {
	s.Listed, s.Enabled, s.Disabled, s.Unchanged = r.Seen, r.Enabled, r.Disabled, r.Unchanged
	s.Problems, s.ProblemExamples = r.Problems, r.Examples
	s.GuardRefused, s.DisablesWithheld = r.GuardRefused, r.DisablesWithheld
	s.invalid = r.Invalid()
}
