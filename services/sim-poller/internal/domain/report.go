package domain

import "github.com/simbridge/simbridge/libs/simrec"

// Problem kinds counted in a Report: why a listed SIM was skipped.
const (
	ProblemNoIP           = simrec.ProblemNoIP
	ProblemInvalidIP      = simrec.ProblemInvalidIP
	ProblemInvalidICCID   = simrec.ProblemInvalidICCID
	ProblemInvalidStatus  = simrec.ProblemInvalidStatus
	ProblemDuplicateICCID = simrec.ProblemDuplicateICCID
	ProblemIPConflict     = simrec.ProblemIPConflict
)

// Report summarises one reconciliation for operators.
type Report struct {
	// Seen counts every listed SIM; Enabled and Disabled those with a valid
	// ICCID by 1NCE status.
	Seen     int
	Enabled  int
	Disabled int
	// Unchanged counts listed SIMs the store already matches.
	Unchanged int
	// Problems counts SIMs skipped by kind; Examples keeps a few ICCIDs per
	// kind so the operator can look them up without a log search.
	Problems map[string]int
	Examples map[string][]string
	// Absent counts active SIMs the listing did not contain. Of those, Drift
	// counts the ones 1NCE still has Enabled (the listing missed them; kept)
	// and Unconfirmed the ones not confirmed either way (kept this run); the
	// rest were confirmed gone or disabled. DriftExamples names a few.
	Absent int
	// Revoked counts SIMs an operator revoked that 1NCE still lists as
	// Enabled: they stay without access until 1NCE disables them.
	Revoked       int
	Drift         int
	Unconfirmed   int
	DriftExamples []string
	// GuardRefused is set when disables were withheld by the mass-disable
	// guard; DisableLimit is how many the run could have disabled.
	GuardRefused bool
	DisableLimit int
	// DisablesWithheld counts disables not published (incomplete listing or guard).
	DisablesWithheld int
}

// maxExamples bounds the ICCIDs kept per problem kind: a report must stay
// small even when every SIM of a large account is invalid.
const maxExamples = 5

func newReport() Report {
	return Report{Problems: map[string]int{}, Examples: map[string][]string{}}
}

func (r *Report) problem(kind, iccid string) {
	r.Problems[kind]++
	if len(r.Examples[kind]) < maxExamples {
		r.Examples[kind] = append(r.Examples[kind], iccid)
	}
}

// Invalid reports the problems that mean 1NCE's data is wrong, as opposed to
// SIMs without IP, which are expected (not yet attached) and only counted.
func (r Report) Invalid() map[string]int {
	out := map[string]int{}
	for kind, n := range r.Problems {
		if kind != ProblemNoIP && n > 0 {
			out[kind] = n
		}
	}
	return out
}
