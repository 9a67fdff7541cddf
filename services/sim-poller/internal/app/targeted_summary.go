package app

import (
	"errors"
	"time"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/services/sim-poller/internal/domain"
)

// TargetSummary is what a targeted sync did: the result of an operator's
// "sync these SIMs" request, and of a Data Streamer hint.
type TargetSummary struct {
	StartedAt       time.Time `json:"started_at"`
	DurationSeconds float64   `json:"duration_seconds"`
	// Requested counts the distinct SIMs asked about; Neighbours the SIMs
	// looked up too because their records hold an IP 1NCE gave one of them.
	Requested  int `json:"requested"`
	Neighbours int `json:"neighbours,omitempty"`
	// Listed is set when the account was listed instead of looking the
	// SIMs up one by one (cheaper for many SIMs).
	Listed bool `json:"listed,omitempty"`
	// Enabled and Disabled count the SIMs 1NCE answered with that status,
	// NotFound those it does not hold (404).
	Enabled   int `json:"enabled"`
	Disabled  int `json:"disabled"`
	NotFound  int `json:"not_found"`
	Unchanged int `json:"unchanged"`
	// Published counts the commands sent, by kind (create, update, disable).
	Published map[string]int `json:"published"`
	// Failed counts SIMs whose lookup failed (kept as they are).
	Failed         int      `json:"failed,omitempty"`
	FailedExamples []string `json:"failed_examples,omitempty"`
	// Problems counts SIMs skipped by reason (no_ip, ip_conflict, …).
	Problems        map[string]int      `json:"problems,omitempty"`
	ProblemExamples map[string][]string `json:"problem_examples,omitempty"`
	Revoked         int                 `json:"revoked,omitempty"`
	// SIMs says what happened to each requested SIM (the first 100).
	SIMs  []SIMOutcome `json:"sims,omitempty"`
	Error string       `json:"error,omitempty"`
	// Dropped counts the hints Triage left without a lookup, by reason
	// (quiet, unknown_bounded, recently_gone).
	Dropped map[string]int `json:"dropped,omitempty"`
	// notFound are the SIMs neither 1NCE nor the store holds (Triage
	// remembers them).
	notFound []string
}

// SIMOutcome is what a targeted sync did about one requested SIM.
type SIMOutcome struct {
	ICCID string `json:"iccid"`
	// Status is 1NCE's status ("" when the lookup failed or it answered 404).
	Status string `json:"status,omitempty"`
	IP     string `json:"ip,omitempty"`
	// Outcome is the command published (create, update, disable), or
	// "unchanged", "not_found" (1NCE does not hold it and no record does
	// either), "failed" (the lookup failed), "skipped" (see Problems).
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitempty"`
}

// Outcomes of a SIM that got no command.
const (
	OutcomeUnchanged = "unchanged"
	OutcomeNotFound  = "not_found"
	OutcomeFailed    = "failed"
	OutcomeSkipped   = "skipped"
)

// add counts one wave's report.
func (s *TargetSummary) add(r domain.Report, neighbours int) {
	s.Neighbours += neighbours
	s.Enabled += r.Enabled
	s.Disabled += r.Disabled
	s.Unchanged += r.Unchanged
	s.Revoked += r.Revoked
	for kind, n := range r.Problems {
		if s.Problems == nil {
			s.Problems, s.ProblemExamples = map[string]int{}, map[string][]string{}
		}
		s.Problems[kind] += n
		ex := append(s.ProblemExamples[kind], r.Examples[kind]...)
		s.ProblemExamples[kind] = ex[:min(len(ex), 5)]
	}
}

// outcomes fills NotFound and the per-SIM lines of the requested SIMs.
func (s *TargetSummary) outcomes(ids []string, remote map[string]lookup, local map[string]simrec.Summary, changes []events.SimCommand) {
	byICCID := map[string]events.SimCommand{}
	for _, c := range changes {
		byICCID[c.ICCID] = c
	}
	skipped := map[string]bool{}
	for _, ex := range s.ProblemExamples { // examples only: a skipped SIM beyond them reads "unchanged"
		for _, id := range ex {
			skipped[id] = true
		}
	}
	for _, id := range ids {
		r := remote[id]
		o := SIMOutcome{ICCID: id, Status: r.sim.Status, IP: r.sim.IP}
		c, changed := byICCID[id]
		switch {
		case changed:
			o.Outcome, o.Reason = string(c.Kind), c.Reason
		case errors.Is(r.err, ErrSIMNotFound):
			s.NotFound++
			o.Outcome, o.Reason = OutcomeNotFound, "1NCE does not hold the SIM"
			if _, ok := local[id]; ok {
				o.Outcome, o.Reason = OutcomeUnchanged, "1NCE does not hold the SIM; its record has no access"
			} else {
				s.notFound = append(s.notFound, id)
			}
		case r.err != nil:
			o.Outcome, o.Reason = OutcomeFailed, r.err.Error()
		case skipped[id]:
			o.Outcome = OutcomeSkipped
		default:
			o.Outcome = OutcomeUnchanged
		}
		if len(s.SIMs) < maxOutcomes {
			s.SIMs = append(s.SIMs, o)
		}
	}
}
