package opscli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simrec/simrectest"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
	"github.com/simbridge/simbridge/tools/opscli"
)

// TestRulesOnEveryPath runs the cases every path decides alike
// (simrectest.RuleCases: IP conflicts checked against every SIM holding the
// IP, invalid and missing IPs, …) through simbridge's paths against the
// real sim-poller: `audit` (sim-poller's full dry run), then for each
// case's SIM `sync --dry-run` (a targeted sync), `enable --dry-run` and
// `status`. The command line holds no 1NCE credential: every 1NCE answer
// comes from sim-poller. A SIM the rules skip or refuse is never a
// success (exit code 1 for sync and enable, 3 for status).
func TestRulesOnEveryPath(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bootstrap.Options{}, 0)
	ctx := context.Background()
	cases := make([]simrectest.RuleCase, len(simrectest.RuleCases))
	for i, tc := range simrectest.RuleCases {
		c := tc.In(100+i, simrectest.ICCIDs(fmt.Sprintf("898828066%04d%04d", e.n, i)))
		cases[i] = c
		for _, l := range c.Once {
			if err := e.once.Inventory().Add(onceapi.SIM{ICCID: l.ICCID, Status: l.Status, IPAddress: l.IP, IMSI: "901405100000001"}); err != nil {
				t.Fatal(err)
			}
		}
		for _, r := range c.Records {
			rec := simrec.Record{ICCID: r.ICCID, IP: r.IP, Status: r.Summary().Status, LastCommand: "seed"}
			rec.SetState(r.State)
			if _, err := e.store.Create(ctx, rec); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.start("sim-poller", "ONCE_API_URL="+e.simURL, "ONCE_USERNAME="+onceUser, "ONCE_PASSWORD_VALUE="+oncePassword,
		"SYNC_ON_START=false", "SYNC_INTERVAL=1h", "HTTP_ADDR=127.0.0.1:0", "ONCE_RATE_LIMIT=100", "HINT_WINDOW=100ms",
		"DISABLE_ALLOWANCE=100")

	// the full sync's view (and the conflicts it remembers for later lookups)
	var audit opscli.AuditReport
	e.run("-o", "json", "audit").json(t, &audit)
	found := map[string][]string{}
	for _, f := range audit.Findings {
		found[f.ICCID] = append(found[f.ICCID], f.Kind)
	}

	for i, c := range cases {
		t.Run(simrectest.RuleCases[i].Name, func(t *testing.T) {
			if want := auditKind(c); want != "" && !containsString(found[c.SIM], want) {
				t.Errorf("audit: findings %v for the SIM, want %s", found[c.SIM], want)
			}
			for other, k := range c.Others {
				if k == events.KindDisable && len(found[other]) == 0 {
					t.Errorf("audit: nothing about %s, which the rules disable", other)
				}
			}

			var res opscli.SyncResult
			r := e.run("-o", "json", "sync", "--dry-run", c.SIM)
			r.json(t, &res)
			o := outcomeIn(t, res)
			wantOutcome := string(c.Change)
			switch {
			case wantOutcome != "":
			case c.Problem != "":
				wantOutcome = events.OutcomeSkipped
			default:
				wantOutcome = events.OutcomeUnchanged
			}
			if o.Outcome != wantOutcome && !(c.Listed(c.SIM) == nil && o.Outcome == events.OutcomeNotFound) || o.Problem != c.Problem {
				t.Errorf("sync --dry-run: %+v, want outcome %s, problem %q", o, wantOutcome, c.Problem)
			}
			if skipped := o.Outcome == events.OutcomeSkipped; skipped != (r.code == opscli.ExitError) || !skipped && r.code != opscli.ExitOK {
				t.Errorf("sync --dry-run of a SIM the rules %s: exit %d", o.Outcome, r.code)
			}

			en := e.run("-o", "json", "enable", "--dry-run", c.SIM)
			var plan opscli.Plan
			if c.Grants {
				en.want(t, opscli.ExitOK).json(t, &plan)
				if len(plan.Steps) != 1 || plan.Steps[0].Target != c.SIM || plan.Steps[0].Action != string(events.KindCreate) {
					t.Errorf("enable --dry-run of a SIM the rules let have credentials: %+v", plan)
				}
			} else if en.code == opscli.ExitOK {
				t.Errorf("enable of a SIM the rules give no credentials succeeded: %s", en)
			}

			var st opscli.SIMStatus
			sr := e.run("-o", "json", "status", c.SIM)
			sr.json(t, &st)
			if c.Problem != "" {
				if st.Once == nil || st.Once.Problem != c.Problem || sr.code != opscli.ExitAttention {
					t.Errorf("status: exit %d, 1NCE view %+v, verdict %+v; want problem %q", sr.code, st.Once, st.Verdict, c.Problem)
				}
				if st.Verdict.State == opscli.VerdictPending || st.Verdict.State == opscli.VerdictOnboardable {
					t.Errorf("status calls a SIM the rules skip %s", st.Verdict.State)
				}
			}
		})
	}
}

// auditKind is the finding the audit must list for the case's SIM ("" when
// none is due: the SIM and the table agree, or 1NCE lists it without IP and
// it has no record, which is counted, not listed).
func auditKind(c simrectest.RuleCase) string {
	switch {
	case c.Problem == simrec.ProblemIPConflict:
		return opscli.DriftIPConflict
	case c.Problem == simrec.ProblemInvalidIP:
		return opscli.DriftInvalidIPInOnce
	case c.Change == events.KindCreate:
		return opscli.DriftEnabledNotActive
	case c.Change == events.KindUpdate:
		return opscli.DriftIPDiffers
	case c.Change == events.KindDisable:
		return opscli.DriftActiveNotEnabled
	}
	return ""
}

// outcomeIn is the one SIM outcome of a targeted sync's result.
func outcomeIn(t *testing.T, res opscli.SyncResult) events.SIMOutcome {
	t.Helper()
	var sum struct {
		SIMs []events.SIMOutcome `json:"sims"`
	}
	if err := json.Unmarshal(res.Summary, &sum); err != nil || len(sum.SIMs) != 1 {
		t.Fatalf("result %+v: %v", res, err)
	}
	return sum.SIMs[0]
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
