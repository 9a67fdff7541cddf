package app

import (
	"errors"
	"fmt"
	"strings"
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
	// DryRun is set when nothing was to be published (PlanSIMs); Planned
	// then counts the commands the sync would have sent, by kind.
	DryRun  bool           `json:"dry_run,omitempty"`
	Planned map[string]int `json:"planned,omitempty"`
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
	// TriageSeconds is how long Triage took before the sync began.
	TriageSeconds float64 `json:"triage_seconds,omitempty"`
	// notFound are the SIMs neither 1NCE nor the store holds (Triage
	// remembers them).
	notFound []string
}

// SIMOutcome is what a targeted sync did, or would do, about one requested
// SIM (the contract operators' lookups read).
type SIMOutcome = events.SIMOutcome

// Outcomes of a SIM that got no command.
const (
	OutcomeUnchanged = events.OutcomeUnchanged
	OutcomeNotFound  = events.OutcomeNotFound
	OutcomeFailed    = events.OutcomeFailed
	OutcomeSkipped   = events.OutcomeSkipped
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
func (s *TargetSummary) outcomes(ids []string, remote map[string]lookup, local map[string]simrec.Summary, changes []events.SimCommand, skips []domain.Skip) {
	byICCID := map[string]events.SimCommand{}
	for _, c := range changes {
		byICCID[c.ICCID] = c
	}
	skipped := map[string]domain.Skip{}
	for _, sk := range skips {
		skipped[sk.ICCID] = sk
	}
	for _, id := range ids {
		r := remote[id]
		o := SIMOutcome{ICCID: id}
		if r.err == nil {
			o.Found, o.Status, o.IP, o.IMSI, o.MSISDN, o.Label = true, r.sim.Status, r.sim.IP, r.sim.IMSI, r.sim.MSISDN, r.sim.Label
		}
		c, changed := byICCID[id]
		sk, isSkipped := skipped[id]
		if isSkipped {
			o.Problem, o.Claimants = sk.Problem, sk.Claimants
		}
		l, recorded := local[id]
		switch {
		case changed:
			o.Outcome, o.Reason = string(c.Kind), c.Reason
		case errors.Is(r.err, ErrSIMNotFound):
			s.NotFound++
			o.Outcome, o.Reason = OutcomeNotFound, "1NCE does not hold the SIM"
			if recorded {
				o.Outcome, o.Reason = OutcomeUnchanged, "1NCE does not hold the SIM; its record has no access"
			} else {
				s.notFound = append(s.notFound, id)
			}
		case r.err != nil:
			o.Outcome, o.Reason = OutcomeFailed, r.err.Error()
		case isSkipped:
			o.Outcome, o.Reason = OutcomeSkipped, skipReason(sk)
		case recorded && r.sim.Status == domain.StatusEnabled && simrec.HeldRevoked(l):
			o.Outcome, o.Held, o.Reason = OutcomeUnchanged, true, "revoked by an operator; held without access while 1NCE enables it (simbridge enable gives it a fresh certificate)"
		default:
			o.Outcome = OutcomeUnchanged
		}
		if len(s.SIMs) < s.maxOutcomes() {
			s.SIMs = append(s.SIMs, o)
		}
	}
}

// maxOutcomes bounds the per-SIM lines: a dry run (an operator's lookup)
// answers for every SIM it was asked about.
func (s *TargetSummary) maxOutcomes() int {
	if s.DryRun {
		return events.MaxLookupICCIDs
	}
	return maxOutcomes
}

// skipReason says in words why the rules skipped a SIM.
func skipReason(sk domain.Skip) string {
	switch sk.Problem {
	case domain.ProblemNoIP:
		return "1NCE gives the SIM no IP address"
	case domain.ProblemInvalidIP:
		return fmt.Sprintf("1NCE gives the SIM an invalid IP address %q", sk.IP)
	case domain.ProblemIPConflict:
		return fmt.Sprintf("1NCE gives IP %s also to %s: neither gets credentials until 1NCE is corrected", sk.IP, strings.Join(sk.Claimants, ", "))
	case domain.ProblemInvalidStatus:
		return "1NCE gives the SIM a status simbridge does not know"
	}
	return sk.Problem
}
