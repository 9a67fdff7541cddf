package app

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// notify sends the run's one failure notification, if anything needs an
// operator: the run failed (including a guard refusal or an incomplete
// listing, whose error says what did not add up), or 1NCE listed invalid
// SIMs. SIMs without IP are expected and only counted.
func (s *Syncer) notify(ctx context.Context, sum Summary) {
	var parts []string
	if sum.Error != "" {
		parts = append(parts, sum.Error)
	}
	if bad := describeInvalid(sum); bad != "" {
		parts = append(parts, "skipped invalid SIMs: "+bad)
	}
	if len(parts) == 0 {
		return
	}
	msg := "SIM sync: " + strings.Join(parts, "; ")
	s.Logger.Warn("sync needs attention", "message", msg, "problems", sum.Problems, "examples", sum.ProblemExamples)
	if err := s.Notifier.Failure(context.WithoutCancel(ctx), "", "", msg); err != nil {
		s.Logger.Error("failure notification not sent", "error", err)
	}
}

// describeInvalid lists the invalid-data kinds with counts and examples, in a
// stable order.
func describeInvalid(sum Summary) string {
	kinds := make([]string, 0, len(sum.invalid))
	for k := range sum.invalid {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	parts := make([]string, 0, len(kinds))
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s=%d (e.g. %s)", k, sum.invalid[k], strings.Join(sum.ProblemExamples[k], ",")))
	}
	return strings.Join(parts, ", ")
}
