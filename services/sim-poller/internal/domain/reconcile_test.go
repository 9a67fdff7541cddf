package domain_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/services/sim-poller/internal/domain"
)

const (
	a = "8988280666000000001"
	b = "8988280666000000002"
	c = "8988280666000000003"
)

func enabled(iccid, ip string) domain.RemoteSIM {
	return domain.RemoteSIM{ICCID: iccid, IP: ip, Status: domain.StatusEnabled}
}

func active(iccid, ip string, v int64) simrec.Summary {
	return simrec.Summary{ICCID: iccid, IP: ip, Active: true, Version: v}
}

var trusting = domain.Policy{ListingComplete: true, MaxDisableShare: 1, DisableAllowance: 100}

// stateRule is one case of SPEC section 4's table.
type stateRule struct {
	name   string
	local  []simrec.Summary
	remote []domain.RemoteSIM
	policy domain.Policy
	// verdicts are what 1NCE's single-SIM endpoint says about absent SIMs (none asked when nil).
	verdicts map[string]domain.Verdict
	want     []string // "kind iccid ip version"
	// streamed, when set, is what a run releasing page by page decides
	// instead of want (a SIM listed twice may have been released before its
	// second listing showed up).
	streamed []string
	check    func(t *testing.T, r domain.Report)
}

func stateRules() []stateRule {
	return []stateRule{
		{name: "new enabled SIM is created", remote: []domain.RemoteSIM{enabled(a, "10.0.0.1")},
			want: []string{"create " + a + " 10.0.0.1 0"}},
		{name: "inactive SIM enabled again is re-enabled", local: []simrec.Summary{{ICCID: a, IP: "10.0.0.1", Version: 4}},
			remote: []domain.RemoteSIM{enabled(a, "10.0.0.1")}, want: []string{"create " + a + " 10.0.0.1 4"}},
		{name: "IP change is one update", local: []simrec.Summary{active(a, "10.0.0.1", 2)},
			remote: []domain.RemoteSIM{enabled(a, "10.0.0.9")}, want: []string{"update " + a + " 10.0.0.9 2"}},
		{name: "unchanged SIM publishes nothing", local: []simrec.Summary{active(a, "10.0.0.1", 2)},
			remote: []domain.RemoteSIM{enabled(a, "10.0.0.1")},
			check: func(t *testing.T, r domain.Report) {
				if r.Unchanged != 1 {
					t.Errorf("unchanged = %d", r.Unchanged)
				}
			}},
		{name: "IP written as IPv4-mapped IPv6 is the same IP", local: []simrec.Summary{active(a, "10.1.2.3", 1), active(b, "10.1.2.4", 1)},
			remote: []domain.RemoteSIM{enabled(a, "::ffff:10.1.2.3"), enabled(b, "::FFFF:a01:204")},
			check: func(t *testing.T, r domain.Report) {
				if r.Unchanged != 2 {
					t.Errorf("unchanged = %d, want 2", r.Unchanged)
				}
			}},
		{name: "a record stored with the mapped spelling is updated to the IPv4 one", local: []simrec.Summary{active(a, "::ffff:10.1.2.3", 4)},
			remote: []domain.RemoteSIM{enabled(a, "10.1.2.3")}, want: []string{"update " + a + " 10.1.2.3 4"}},
		{name: "disabled in 1NCE is disabled", local: []simrec.Summary{active(a, "10.0.0.1", 3)},
			remote: []domain.RemoteSIM{{ICCID: a, IP: "10.0.0.1", Status: domain.StatusDisabled}},
			want:   []string{"disable " + a + " 10.0.0.1 3"}},
		{name: "disabled and already inactive does nothing", local: []simrec.Summary{{ICCID: a, IP: "10.0.0.1", Version: 3}},
			remote: []domain.RemoteSIM{{ICCID: a, IP: "10.0.0.1", Status: domain.StatusDisabled}}},
		{name: "disabled and unknown does nothing", remote: []domain.RemoteSIM{{ICCID: a, Status: domain.StatusDisabled}}},
		{name: "absent SIM confirmed gone is disabled", local: []simrec.Summary{active(a, "10.0.0.1", 1), active(b, "10.0.0.2", 1)},
			remote: []domain.RemoteSIM{enabled(a, "10.0.0.1")}, verdicts: map[string]domain.Verdict{b: domain.VerdictGone},
			want: []string{"disable " + b + " 10.0.0.2 1"}},
		{name: "absent SIM confirmed Disabled is disabled", local: []simrec.Summary{active(a, "10.0.0.1", 1), active(b, "10.0.0.2", 3)},
			remote: []domain.RemoteSIM{enabled(a, "10.0.0.1")}, verdicts: map[string]domain.Verdict{b: domain.VerdictDisabled},
			want: []string{"disable " + b + " 10.0.0.2 3"}},
		{name: "absent SIM still Enabled is kept as listing drift", local: []simrec.Summary{active(a, "10.0.0.1", 1), active(b, "10.0.0.2", 1)},
			remote: []domain.RemoteSIM{enabled(a, "10.0.0.1")}, verdicts: map[string]domain.Verdict{b: domain.VerdictEnabled},
			check: func(t *testing.T, r domain.Report) {
				if r.Absent != 1 || r.Drift != 1 || r.Unconfirmed != 0 || fmt.Sprint(r.DriftExamples) != "["+b+"]" {
					t.Errorf("absent=%d drift=%d unconfirmed=%d examples=%v", r.Absent, r.Drift, r.Unconfirmed, r.DriftExamples)
				}
			}},
		{name: "absent SIM not confirmed is kept this run", local: []simrec.Summary{active(a, "10.0.0.1", 1), active(b, "10.0.0.2", 1)},
			remote: []domain.RemoteSIM{enabled(a, "10.0.0.1")}, verdicts: map[string]domain.Verdict{b: domain.VerdictUnknown},
			check: func(t *testing.T, r domain.Report) {
				if r.Absent != 1 || r.Unconfirmed != 1 || r.Drift != 0 {
					t.Errorf("absent=%d unconfirmed=%d drift=%d", r.Absent, r.Unconfirmed, r.Drift)
				}
			}},
		{name: "absent SIM never asked about is kept", local: []simrec.Summary{active(a, "10.0.0.1", 1), active(b, "10.0.0.2", 1)},
			remote: []domain.RemoteSIM{enabled(a, "10.0.0.1")}},
		{name: "a verdict on a listed SIM changes nothing", local: []simrec.Summary{active(a, "10.0.0.1", 1)},
			remote: []domain.RemoteSIM{enabled(a, "10.0.0.1")}, verdicts: map[string]domain.Verdict{a: domain.VerdictGone}},
		{name: "a verdict on an inactive SIM changes nothing", local: []simrec.Summary{{ICCID: b, IP: "10.0.0.2", Version: 1}},
			remote: []domain.RemoteSIM{enabled(a, "10.0.0.1")}, verdicts: map[string]domain.Verdict{b: domain.VerdictDisabled},
			want: []string{"create " + a + " 10.0.0.1 0"}},
		{name: "confirmed gone but the listing was incomplete: nothing disabled", local: []simrec.Summary{active(a, "10.0.0.1", 1), active(b, "10.0.0.2", 1)},
			remote: []domain.RemoteSIM{enabled(a, "10.0.0.1")}, verdicts: map[string]domain.Verdict{b: domain.VerdictGone},
			policy: domain.Policy{ListingComplete: false, MaxDisableShare: 1, DisableAllowance: 100, Force: true}},
		{name: "absent and inactive does nothing", local: []simrec.Summary{{ICCID: b, IP: "10.0.0.2", Version: 1}},
			remote: []domain.RemoteSIM{enabled(a, "10.0.0.1")}, want: []string{"create " + a + " 10.0.0.1 0"}},
		{name: "no IP is skipped and counted", local: []simrec.Summary{active(a, "10.0.0.1", 1)},
			remote: []domain.RemoteSIM{enabled(a, ""), enabled(b, "")},
			check:  problems(map[string]int{domain.ProblemNoIP: 2})},
		{name: "invalid IP is skipped", remote: []domain.RemoteSIM{enabled(a, "10.0.0.300"), enabled(b, "ten")},
			check: problems(map[string]int{domain.ProblemInvalidIP: 2})},
		{name: "missing or malformed ICCID is skipped", remote: []domain.RemoteSIM{enabled("", "10.0.0.1"), enabled("89882806660000000AB", "10.0.0.2")},
			check: problems(map[string]int{domain.ProblemInvalidICCID: 2})},
		{name: "unknown status is skipped, never disabled", local: []simrec.Summary{active(a, "10.0.0.1", 1)},
			remote: []domain.RemoteSIM{{ICCID: a, IP: "10.0.0.1", Status: "Suspended"}},
			check:  problems(map[string]int{domain.ProblemInvalidStatus: 1})},
		{name: "duplicate ICCID gets no change", remote: []domain.RemoteSIM{enabled(a, "10.0.0.1"), enabled(a, "10.0.0.2")},
			streamed: []string{"create " + a + " 10.0.0.1 0"},
			check:    problems(map[string]int{domain.ProblemDuplicateICCID: 1})},
		{name: "duplicate ICCID known to the store is not disabled", local: []simrec.Summary{active(a, "10.0.0.1", 1)},
			remote: []domain.RemoteSIM{enabled(a, "10.0.0.1"), {ICCID: a, Status: domain.StatusDisabled}},
			check:  problems(map[string]int{domain.ProblemDuplicateICCID: 1})},
		{name: "two new SIMs with one IP: neither is created", remote: []domain.RemoteSIM{enabled(a, "10.0.0.1"), enabled(b, "10.0.0.1"), enabled(c, "10.0.0.3")},
			want:  []string{"create " + c + " 10.0.0.3 0"},
			check: problems(map[string]int{domain.ProblemIPConflict: 2})},
		{name: "new SIM claiming an active SIM's IP: the active one loses access too", local: []simrec.Summary{active(a, "10.0.0.1", 5)},
			remote: []domain.RemoteSIM{enabled(a, "10.0.0.1"), enabled(b, "10.0.0.1")},
			want:   []string{"disable " + a + " 10.0.0.1 5"},
			check:  problems(map[string]int{domain.ProblemIPConflict: 2})},
		{name: "re-enabled SIM with a new IP is re-enabled at the new IP", local: []simrec.Summary{{ICCID: a, IP: "10.0.0.1", Version: 6}},
			remote: []domain.RemoteSIM{enabled(a, "10.0.0.7")}, want: []string{"create " + a + " 10.0.0.7 6"}},
		{name: "re-enabled SIM without IP is skipped, not created", local: []simrec.Summary{{ICCID: a, IP: "10.0.0.1", Version: 6}},
			remote: []domain.RemoteSIM{enabled(a, "")}, check: problems(map[string]int{domain.ProblemNoIP: 1})},
		{name: "active SIM losing its IP keeps its access and is counted", local: []simrec.Summary{active(a, "10.0.0.1", 2)},
			remote: []domain.RemoteSIM{enabled(a, "")}, check: problems(map[string]int{domain.ProblemNoIP: 1})},
		{name: "disabled SIM without IP is still disabled", local: []simrec.Summary{active(a, "10.0.0.1", 3)},
			remote: []domain.RemoteSIM{{ICCID: a, Status: domain.StatusDisabled}}, want: []string{"disable " + a + " 10.0.0.1 3"}},
		{name: "IPv4-mapped SIM is created with the IPv4 address", remote: []domain.RemoteSIM{enabled(a, "::ffff:10.0.0.5")},
			want: []string{"create " + a + " 10.0.0.5 0"}},
		{name: "IPv6 SIM is invalid data, skipped and counted", remote: []domain.RemoteSIM{enabled(a, "2001:DB8:0:0::5"), enabled(b, "::1"), enabled(c, "::10.0.0.6")},
			check: problems(map[string]int{domain.ProblemInvalidIP: 3})},
		{name: "active SIM listed with an IPv6 address keeps its access and is counted", local: []simrec.Summary{active(a, "10.0.0.1", 2)},
			remote: []domain.RemoteSIM{enabled(a, "2001:db8::1")}, check: problems(map[string]int{domain.ProblemInvalidIP: 1})},
		{name: "mapped and plain spellings of one IP conflict", remote: []domain.RemoteSIM{enabled(a, "10.1.2.3"), enabled(b, "::ffff:10.1.2.3"), enabled(c, "10.1.2.9")},
			want:  []string{"create " + c + " 10.1.2.9 0"},
			check: problems(map[string]int{domain.ProblemIPConflict: 2})},
		{name: "a new SIM at the mapped spelling of an active SIM's IP: the active one loses access too", local: []simrec.Summary{active(a, "10.1.2.3", 5)},
			remote: []domain.RemoteSIM{enabled(a, "10.1.2.3"), enabled(b, "::ffff:10.1.2.3")},
			want:   []string{"disable " + a + " 10.1.2.3 5"},
			check:  problems(map[string]int{domain.ProblemIPConflict: 2})},
		{name: "IP with a zone or port is invalid", remote: []domain.RemoteSIM{enabled(a, "10.0.0.1:80"), enabled(b, " 10.0.0.2")},
			check: problems(map[string]int{domain.ProblemInvalidIP: 2})},
		{name: "three SIMs with one IP: none gets credentials", local: []simrec.Summary{active(b, "10.0.0.1", 2)},
			remote: []domain.RemoteSIM{enabled(a, "10.0.0.1"), enabled(b, "10.0.0.1"), enabled(c, "10.0.0.1")},
			want:   []string{"disable " + b + " 10.0.0.1 2"},
			check:  problems(map[string]int{domain.ProblemIPConflict: 3})},
		{name: "a disabled SIM sharing an enabled SIM's IP is no conflict", local: []simrec.Summary{{ICCID: b, IP: "10.0.0.1", Version: 2}},
			remote: []domain.RemoteSIM{enabled(a, "10.0.0.1"), {ICCID: b, IP: "10.0.0.1", Status: domain.StatusDisabled}},
			want:   []string{"create " + a + " 10.0.0.1 0"}},
		{name: "a new SIM taking the IP of a SIM that left is created, the old one disabled", local: []simrec.Summary{active(b, "10.0.0.1", 4)},
			remote: []domain.RemoteSIM{enabled(a, "10.0.0.1")}, verdicts: map[string]domain.Verdict{b: domain.VerdictGone},
			want: []string{"create " + a + " 10.0.0.1 0", "disable " + b + " 10.0.0.1 4"}},
		{name: "IP swap between two SIMs is two updates", local: []simrec.Summary{active(a, "10.0.0.1", 1), active(b, "10.0.0.2", 1)},
			remote: []domain.RemoteSIM{enabled(a, "10.0.0.2"), enabled(b, "10.0.0.1")},
			want:   []string{"update " + a + " 10.0.0.2 1", "update " + b + " 10.0.0.1 1"}},
	}
}

func (tc stateRule) effectivePolicy() domain.Policy {
	if tc.policy == (domain.Policy{}) {
		return trusting
	}
	return tc.policy
}

func TestStateRules(t *testing.T) {
	t.Parallel()
	for _, tc := range stateRules() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			changes, report := run(tc.local, tc.remote, tc.effectivePolicy(), byICCID(tc.verdicts))
			assertChanges(t, changes, tc.want)
			if tc.check != nil {
				tc.check(t, report)
			}
		})
	}
}

// TestStreamingEndsWhereTheWholeListingWould runs every state rule with one
// SIM a page, releasing what each page allows (as a full sync does while it
// lists): what was released plus what Finish returns is what a run over the
// whole listing decides, except for SIMs released before a later page showed
// their IP conflict — exactly those are LateConflicts, whose access the app
// takes away, so they end without credentials as the rules want.
func TestStreamingEndsWhereTheWholeListingWould(t *testing.T) {
	t.Parallel()
	for _, tc := range stateRules() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := domain.NewReconciler(tc.local)
			var got []events.SimCommand
			for _, s := range tc.remote {
				r.Observe(s)
				got = append(got, r.Release()...)
			}
			changes, report := finishWith(r, tc.local, tc.effectivePolicy(), byICCID(tc.verdicts))
			got = append(got, changes...)
			late := map[string]bool{}
			for _, lc := range r.LateConflicts() {
				id := lc.ICCID
				late[id] = true
				if report.Problems[domain.ProblemIPConflict] == 0 {
					t.Errorf("late conflict %s without an IP conflict in the report", id)
				}
			}
			var kept []events.SimCommand
			for _, c := range got {
				if !late[c.ICCID] {
					kept = append(kept, c)
				}
			}
			slices.SortFunc(kept, func(x, y events.SimCommand) int { return strings.Compare(x.ICCID, y.ICCID) })
			want := tc.want
			if tc.streamed != nil {
				want = tc.streamed
			}
			assertChanges(t, kept, want)
			for id := range late {
				if slices.ContainsFunc(tc.want, func(w string) bool { return strings.Contains(w, id) }) {
					t.Errorf("%s is a late conflict, but the whole listing gives it a command", id)
				}
			}
			if tc.check != nil {
				tc.check(t, report)
			}
		})
	}
}

// TestReleaseWaitsForWhatALaterPageDecides: creates and updates leave page by
// page unless another SIM already listed claims the IP, or an active record
// of a SIM not listed yet holds it; disables always wait for Finish.
func TestReleaseWaitsForWhatALaterPageDecides(t *testing.T) {
	t.Parallel()
	r := domain.NewReconciler([]simrec.Summary{active(a, "10.0.0.1", 1), active(b, "10.0.0.2", 1), {ICCID: c, IP: "10.0.0.3", Version: 2}})
	r.Observe(enabled("8988280666000000004", "10.0.0.1")) // a's IP, a not listed yet
	r.Observe(enabled("8988280666000000005", "10.0.0.3")) // an inactive record's IP: free
	r.Observe(domain.RemoteSIM{ICCID: b, IP: "10.0.0.2", Status: domain.StatusDisabled})
	assertChanges(t, r.Release(), []string{"create 8988280666000000005 10.0.0.3 0"})
	r.Observe(enabled(a, "10.0.0.9")) // a moved away: its old IP is free
	assertChanges(t, r.Release(), []string{"update " + a + " 10.0.0.9 1", "create 8988280666000000004 10.0.0.1 0"})
	changes, _ := r.Finish(trusting)
	assertChanges(t, changes, []string{"disable " + b + " 10.0.0.2 1"})
	if late := r.LateConflicts(); len(late) != 0 {
		t.Fatalf("late conflicts %v", late)
	}
}

func TestGuard(t *testing.T) {
	t.Parallel()
	var local []simrec.Summary
	var remote []domain.RemoteSIM
	for i := range 100 {
		id := fmt.Sprintf("89882806660000%05d", i)
		local = append(local, active(id, fmt.Sprintf("10.0.%d.%d", i/250, i%250), 1))
		if i >= 20 {
			remote = append(remote, enabled(id, fmt.Sprintf("10.0.%d.%d", i/250, i%250)))
		}
	}
	newSIM := enabled("8988280666999999999", "10.9.9.9")
	tests := []struct {
		name        string
		remote      []domain.RemoteSIM
		policy      domain.Policy
		wantDisable int
		refused     bool
		withheld    int
	}{
		// Confirmation stops once an 11th SIM is confirmed gone: the guard allows 10.
		{"over the share is refused", append(remote, newSIM), domain.Policy{ListingComplete: true, MaxDisableShare: 0.1, DisableAllowance: 5}, 0, true, 11},
		{"within the share passes", append(remote[:0:0], append(remote, local2remote(local[10:20])...)...), domain.Policy{ListingComplete: true, MaxDisableShare: 0.1}, 10, false, 0},
		{"forced passes", remote, domain.Policy{ListingComplete: true, MaxDisableShare: 0.1, Force: true}, 20, false, 0},
		{"failed listing publishes no disable", remote[:10], domain.Policy{ListingComplete: false, MaxDisableShare: 1, Force: true}, 0, false, 0},
		{"empty listing never mass-disables", nil, domain.Policy{ListingComplete: true, MaxDisableShare: 1, DisableAllowance: 1000}, 0, true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			changes, report := run(local, tc.remote, tc.policy, gone)
			disables, creates := 0, 0
			for _, ch := range changes {
				if ch.Kind == events.KindDisable {
					disables++
				} else {
					creates++
				}
			}
			if disables != tc.wantDisable || report.GuardRefused != tc.refused || report.DisablesWithheld != tc.withheld {
				t.Fatalf("disables=%d refused=%v withheld=%d; want %d %v %d", disables, report.GuardRefused, report.DisablesWithheld, tc.wantDisable, tc.refused, tc.withheld)
			}
			for _, s := range tc.remote {
				if s.ICCID == newSIM.ICCID && creates != 1 {
					t.Fatal("the guard must not hold back creates")
				}
			}
		})
	}
}

func TestSmallFleetCanLoseOneSIM(t *testing.T) {
	t.Parallel()
	local := []simrec.Summary{active(a, "10.0.0.1", 1), active(b, "10.0.0.2", 1), active(c, "10.0.0.3", 1)}
	changes, report := run(local, []domain.RemoteSIM{enabled(a, "10.0.0.1"), enabled(b, "10.0.0.2")},
		domain.Policy{ListingComplete: true, MaxDisableShare: 0.1, DisableAllowance: 1}, gone)
	assertChanges(t, changes, []string{"disable " + c + " 10.0.0.3 1"})
	if report.GuardRefused {
		t.Fatal("allowance ignored")
	}
}

func local2remote(l []simrec.Summary) []domain.RemoteSIM {
	var out []domain.RemoteSIM
	for _, s := range l {
		out = append(out, enabled(s.ICCID, s.IP))
	}
	return out
}

// run reconciles remote against local under p; verdict (nil: nothing asked)
// answers for each absent SIM the plan names, in order, stopping as the app
// does once the guard would refuse. Verdicts on other SIMs are given too, to
// show they change nothing.
func run(local []simrec.Summary, remote []domain.RemoteSIM, p domain.Policy, verdict func(string) (domain.Verdict, bool)) ([]events.SimCommand, domain.Report) {
	r := domain.NewReconciler(local)
	for _, s := range remote {
		r.Observe(s)
	}
	return finishWith(r, local, p, verdict)
}

// finishWith confirms absent SIMs as run does, then finishes.
func finishWith(r *domain.Reconciler, local []simrec.Summary, p domain.Policy, verdict func(string) (domain.Verdict, bool)) ([]events.SimCommand, domain.Report) {
	if verdict == nil {
		return r.Finish(p)
	}
	plan := r.PlanConfirmations(p)
	disables := 0
	for _, id := range plan.ICCIDs {
		if plan.MaxDisables >= 0 && disables > plan.MaxDisables {
			break
		}
		v, _ := verdict(id)
		if v == domain.VerdictGone || v == domain.VerdictDisabled {
			disables++
		}
		r.Confirm(id, v)
	}
	for _, l := range local {
		if v, ok := verdict(l.ICCID); ok && !slices.Contains(plan.ICCIDs, l.ICCID) {
			r.Confirm(l.ICCID, v)
		}
	}
	return r.Finish(p)
}

// gone says every SIM asked about left the account.
func gone(string) (domain.Verdict, bool) { return domain.VerdictGone, false }

// byICCID answers from a table; nil asks nothing.
func byICCID(m map[string]domain.Verdict) func(string) (domain.Verdict, bool) {
	if m == nil {
		return nil
	}
	return func(id string) (domain.Verdict, bool) { v, ok := m[id]; return v, ok }
}

func problems(want map[string]int) func(*testing.T, domain.Report) {
	return func(t *testing.T, r domain.Report) {
		t.Helper()
		for k, v := range want {
			if r.Problems[k] != v {
				t.Errorf("problem %s = %d, want %d (all: %v)", k, r.Problems[k], v, r.Problems)
			}
		}
	}
}

func assertChanges(t *testing.T, got []events.SimCommand, want []string) {
	t.Helper()
	var g []string
	for _, c := range got {
		g = append(g, fmt.Sprintf("%s %s %s %d", c.Kind, c.ICCID, c.IP, c.BaseVersion))
	}
	if fmt.Sprint(g) != fmt.Sprint(want) {
		t.Fatalf("changes\n got %v\nwant %v", g, want)
	}
}

func TestReportCountsWhatOperatorsSee(t *testing.T) {
	t.Parallel()
	local := []simrec.Summary{active(a, "10.0.0.1", 1), {ICCID: b, IP: "10.0.0.2", Version: 1}}
	remote := []domain.RemoteSIM{
		enabled(a, "10.0.0.1"), {ICCID: b, Status: domain.StatusDisabled}, enabled(c, ""),
		enabled("bad", "10.0.0.9"), enabled("8988280666000000004", "nope"),
	}
	_, r := run(local, remote, trusting, nil)
	if r.Seen != 5 || r.Enabled != 3 || r.Disabled != 1 || r.Unchanged != 2 {
		t.Fatalf("seen=%d enabled=%d disabled=%d unchanged=%d", r.Seen, r.Enabled, r.Disabled, r.Unchanged)
	}
	invalid := r.Invalid()
	if invalid[domain.ProblemNoIP] != 0 || invalid[domain.ProblemInvalidICCID] != 1 || invalid[domain.ProblemInvalidIP] != 1 {
		t.Fatalf("invalid = %v: SIMs without IP are expected, not invalid", invalid)
	}
	if got := r.Examples[domain.ProblemInvalidICCID]; len(got) != 1 || got[0] != "bad" {
		t.Fatalf("examples = %v", r.Examples)
	}
}

func TestExamplesStayBoundedForAWhollyInvalidAccount(t *testing.T) {
	t.Parallel()
	var remote []domain.RemoteSIM
	for i := range 10_000 {
		remote = append(remote, enabled(fmt.Sprintf("89882806660000%05d", i), "not-an-ip"))
	}
	_, r := run(nil, remote, trusting, nil)
	if r.Problems[domain.ProblemInvalidIP] != 10_000 || len(r.Examples[domain.ProblemInvalidIP]) > 5 {
		t.Fatalf("problems=%v examples=%d", r.Problems, len(r.Examples[domain.ProblemInvalidIP]))
	}
}

// Records carry their lifecycle state: a pending record (a create still at
// work) is disabled when 1NCE disables the SIM, so the late create cannot
// finish it; a revoked SIM stays without access while 1NCE keeps it Enabled,
// and is enabled with a fresh certificate once 1NCE disabled and enabled it.
// Every change names the command it was computed after.
func TestLifecycleStatesAndBaseCommands(t *testing.T) {
	t.Parallel()
	pending := simrec.Summary{ICCID: a, IP: "10.0.0.1", State: simrec.StatePending, Status: domain.StatusEnabled, Version: 2, LastCommand: "create-1"}
	revoked := simrec.Summary{ICCID: b, IP: "10.0.0.2", State: simrec.StateRevoked, Status: domain.StatusEnabled, Version: 7, LastCommand: "revoke-1"}
	revokedThenDisabled := revoked
	revokedThenDisabled.Status = domain.StatusDisabled
	disabled := func(l simrec.Summary) domain.RemoteSIM {
		return domain.RemoteSIM{ICCID: l.ICCID, IP: l.IP, Status: domain.StatusDisabled}
	}
	tests := []struct {
		name   string
		local  simrec.Summary
		remote domain.RemoteSIM
		want   string // "kind base-version base-command" or ""
	}{
		{"pending record of a SIM disabled in 1NCE", pending, disabled(pending), "disable 2 create-1"},
		{"pending record of an enabled SIM: the create at work finishes it", pending, enabled(a, "10.0.0.1"), "create 2 create-1"},
		{"revoked SIM still enabled in 1NCE stays revoked", revoked, enabled(b, "10.0.0.2"), ""},
		{"revoked SIM disabled in 1NCE: the status is recorded", revoked, disabled(revoked), "disable 7 revoke-1"},
		{"revoked SIM disabled, then enabled again: fresh certificate", revokedThenDisabled, enabled(b, "10.0.0.2"), "create 7 revoke-1"},
		{"revoked and disabled SIM still disabled: nothing", revokedThenDisabled, disabled(revokedThenDisabled), ""},
		{"pending record of a SIM confirmed gone", pending, domain.RemoteSIM{}, "disable 2 create-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var remote []domain.RemoteSIM
			if tc.remote.ICCID != "" {
				remote = append(remote, tc.remote)
			}
			changes, _ := run([]simrec.Summary{tc.local, active(c, "10.0.0.3", 1)}, append(remote, enabled(c, "10.0.0.3")), trusting,
				func(string) (domain.Verdict, bool) { return domain.VerdictGone, true })
			var got string
			if len(changes) == 1 {
				got = fmt.Sprintf("%s %d %s", changes[0].Kind, changes[0].BaseVersion, changes[0].BaseCommand)
			} else if len(changes) > 1 {
				got = fmt.Sprint(changes)
			}
			if got != tc.want {
				t.Fatalf("changes %q, want %q", got, tc.want)
			}
		})
	}
}

// TestCommandsCarryWhatTheirConsumersNeed: a create or update carries the
// attributes the SIM's Thing gets and 1NCE's status; every command names
// the record state it was computed against.
func TestCommandsCarryWhatTheirConsumersNeed(t *testing.T) {
	t.Parallel()
	sim := domain.RemoteSIM{ICCID: a, IP: "10.0.0.1", Status: domain.StatusEnabled, IMSI: "901405100000001", MSISDN: "882285100000001", Label: "pump 7"}
	tests := []struct {
		name  string
		local []simrec.Summary
		want  events.SimCommand
	}{
		{name: "create of a new SIM", want: events.SimCommand{Kind: events.KindCreate, ICCID: a, IP: "10.0.0.1", Status: domain.StatusEnabled,
			Reason: domain.ReasonNew, IMSI: sim.IMSI, MSISDN: sim.MSISDN, Label: sim.Label}},
		{name: "update of a moved SIM", local: []simrec.Summary{{ICCID: a, IP: "10.0.0.9", Active: true, Version: 3, LastCommand: "cmd-3"}},
			want: events.SimCommand{Kind: events.KindUpdate, ICCID: a, IP: "10.0.0.1", Status: domain.StatusEnabled, Reason: domain.ReasonIPChanged,
				BaseVersion: 3, BaseCommand: "cmd-3", IMSI: sim.IMSI, MSISDN: sim.MSISDN, Label: sim.Label}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := domain.NewReconciler(tc.local)
			r.Observe(sim)
			got, _ := r.Finish(trusting)
			if len(got) != 1 || got[0] != tc.want {
				t.Fatalf("commands %+v\nwant [%+v]", got, tc.want)
			}
		})
	}
}

// TestRedecideAppliesTheRuleToTheNewerRecord: a change decided from the
// summary index is computed again when the record moved on before it was
// published, against the record as it is now.
func TestRedecideAppliesTheRuleToTheNewerRecord(t *testing.T) {
	t.Parallel()
	update := events.SimCommand{Kind: events.KindUpdate, ICCID: a, IP: "10.0.0.9", Status: domain.StatusEnabled, BaseVersion: 2, Reason: domain.ReasonIPChanged}
	disableCmd := events.SimCommand{Kind: events.KindDisable, ICCID: a, IP: "10.0.0.1", Status: domain.StatusDisabled, BaseVersion: 2, Reason: domain.ReasonDisabled}
	tests := []struct {
		name  string
		cmd   events.SimCommand
		fresh simrec.Summary
		want  string // "kind version base" or ""
	}{
		{"an update whose SIM was disabled meanwhile re-enables it at the new IP", update,
			simrec.Summary{ICCID: a, IP: "10.0.0.1", State: simrec.StateDisabled, Version: 5, LastCommand: "d-5"}, "create 5 d-5"},
		{"an update already applied is dropped", update,
			simrec.Summary{ICCID: a, IP: "10.0.0.9", Active: true, Version: 3, LastCommand: "u-3"}, ""},
		{"an update of a SIM revoked meanwhile is dropped", update,
			simrec.Summary{ICCID: a, IP: "10.0.0.1", State: simrec.StateRevoked, Status: domain.StatusEnabled, Version: 4}, ""},
		{"a disable of a SIM disabled meanwhile is dropped", disableCmd,
			simrec.Summary{ICCID: a, IP: "10.0.0.1", State: simrec.StateDisabled, Version: 3}, ""},
		{"a disable of a SIM still active builds on the newer version", disableCmd,
			simrec.Summary{ICCID: a, IP: "10.0.0.1", Active: true, State: simrec.StateActive, Version: 3, LastCommand: "r-3"}, "disable 3 r-3"},
		{"a disable of a revoked SIM records 1NCE's status", disableCmd,
			simrec.Summary{ICCID: a, IP: "10.0.0.1", State: simrec.StateRevoked, Status: domain.StatusEnabled, Version: 6, LastCommand: "v-6"}, "disable 6 v-6"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := domain.Redecide(tc.cmd, tc.fresh)
			s := ""
			if ok {
				s = fmt.Sprintf("%s %d %s", got.Kind, got.BaseVersion, got.BaseCommand)
			}
			if s != tc.want {
				t.Fatalf("Redecide = %q, want %q", s, tc.want)
			}
		})
	}
}

// TestTheLastRecordOfASIMCounts: a record added again (a newer read of the
// same SIM) replaces the earlier one, as a map would.
func TestTheLastRecordOfASIMCounts(t *testing.T) {
	t.Parallel()
	r := domain.NewReconciler([]simrec.Summary{active(a, "10.0.0.1", 1), {ICCID: b, IP: "10.0.0.2", Version: 4}, active(b, "10.0.0.2", 5)})
	r.Observe(enabled(a, "10.0.0.1"))
	r.Observe(enabled(b, "10.0.0.9"))
	changes, report := r.Finish(trusting)
	assertChanges(t, changes, []string{"update " + b + " 10.0.0.9 5"})
	if report.Unchanged != 1 {
		t.Fatalf("report %+v", report)
	}
}
