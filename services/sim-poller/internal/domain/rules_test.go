package domain_test

import (
	"testing"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simrec/simrectest"
	"github.com/simbridge/simbridge/services/sim-poller/internal/domain"
)

// TestFullSyncRuleCases: the full sync decides the cases every path runs
// (simrectest.RuleCases) as the rules say, seeing the whole listing.
func TestFullSyncRuleCases(t *testing.T) {
	t.Parallel()
	for _, tc := range simrectest.RuleCases {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			c := tc.In(1, simrectest.ICCIDs("89882806660000001"))
			var local []simrec.Summary
			for _, r := range c.Records {
				local = append(local, r.Summary())
			}
			rec := domain.NewReconciler(local)
			rec.KeepSkipped = 10
			for _, l := range c.Once {
				rec.Observe(domain.RemoteSIM{ICCID: l.ICCID, Status: l.Status, IP: l.IP})
			}
			policy := domain.Policy{ListingComplete: true, MaxDisableShare: 1, DisableAllowance: 10}
			for _, id := range rec.PlanConfirmations(policy).ICCIDs {
				rec.Confirm(id, domain.VerdictGone) // the case's 1NCE account does not hold it
			}
			changes, _ := rec.Finish(policy)
			got := map[string]events.Kind{}
			for _, cmd := range changes {
				got[cmd.ICCID] = cmd.Kind
			}
			problem := ""
			for _, sk := range rec.Skipped() {
				if sk.ICCID == c.SIM {
					problem = sk.Problem
				}
			}
			if got[c.SIM] != c.Change || problem != c.Problem {
				t.Errorf("change %q, problem %q; want %q, %q", got[c.SIM], problem, c.Change, c.Problem)
			}
			for other, want := range c.Others {
				if got[other] != want {
					t.Errorf("%s: change %q, want %q", other, got[other], want)
				}
			}
		})
	}
}
