package domain_test

import (
	"fmt"
	"testing"

	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/services/sim-poller/internal/domain"
)

func TestPlanConfirmations(t *testing.T) {
	t.Parallel()
	// 100 active SIMs; the listing shows the last 80, 5 of them Disabled: 20
	// are absent and 5 disables are decided before any confirmation.
	var local []simrec.Summary
	var remote []domain.RemoteSIM
	for i := range 100 {
		id, ip := fmt.Sprintf("89882806660000%05d", i), fmt.Sprintf("10.0.0.%d", i+1)
		local = append(local, active(id, ip, 1))
		switch {
		case i >= 20 && i < 25:
			remote = append(remote, domain.RemoteSIM{ICCID: id, IP: ip, Status: domain.StatusDisabled})
		case i >= 25:
			remote = append(remote, enabled(id, ip))
		}
	}
	tests := []struct {
		name      string
		remote    []domain.RemoteSIM
		policy    domain.Policy
		wantAsked int
		wantMax   int
	}{
		{name: "room left under the guard", remote: remote, policy: domain.Policy{ListingComplete: true, MaxDisableShare: 0.1},
			wantAsked: 20, wantMax: 5},
		{name: "forced run asks about every absent SIM", remote: remote, policy: domain.Policy{ListingComplete: true, MaxDisableShare: 0.1, Force: true},
			wantAsked: 20, wantMax: -1},
		{name: "incomplete listing asks nothing", remote: remote, policy: domain.Policy{ListingComplete: false, MaxDisableShare: 1, Force: true}},
		{name: "guard already exceeded asks nothing", remote: remote, policy: domain.Policy{ListingComplete: true, MaxDisableShare: 0.04}},
		{name: "empty listing asks nothing", policy: domain.Policy{ListingComplete: true, MaxDisableShare: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := domain.NewReconciler(local)
			for _, s := range tc.remote {
				r.Observe(s)
			}
			plan := r.PlanConfirmations(tc.policy)
			if len(plan.ICCIDs) != tc.wantAsked || (tc.wantAsked > 0 && plan.MaxDisables != tc.wantMax) {
				t.Fatalf("plan asks about %d SIMs, max disables %d; want %d, %d", len(plan.ICCIDs), plan.MaxDisables, tc.wantAsked, tc.wantMax)
			}
			if tc.wantAsked > 0 && (plan.ICCIDs[0] != local[0].ICCID || plan.ICCIDs[19] != local[19].ICCID) {
				t.Fatalf("plan %v: want the absent SIMs in ICCID order", plan.ICCIDs)
			}
		})
	}
}

func TestEmptyListingIsRefusedWithoutAskingAboutAnySIM(t *testing.T) {
	t.Parallel()
	r := domain.NewReconciler([]simrec.Summary{active(a, "10.0.0.1", 1), active(b, "10.0.0.2", 1)})
	p := domain.Policy{ListingComplete: true, MaxDisableShare: 1, DisableAllowance: 100}
	if plan := r.PlanConfirmations(p); len(plan.ICCIDs) != 0 {
		t.Fatalf("plan %+v for an empty listing", plan)
	}
	changes, report := r.Finish(p)
	if len(changes) != 0 || !report.GuardRefused || report.Absent != 2 || report.Unconfirmed != 2 {
		t.Fatalf("changes %v, report %+v: want nothing published, the guard refusing, 2 absent SIMs unconfirmed", changes, report)
	}
}

func TestVerdictFor(t *testing.T) {
	t.Parallel()
	for status, want := range map[string]domain.Verdict{
		domain.StatusEnabled: domain.VerdictEnabled, domain.StatusDisabled: domain.VerdictDisabled,
		"Suspended": domain.VerdictUnknown, "": domain.VerdictUnknown,
	} {
		if got := domain.VerdictFor(status); got != want {
			t.Errorf("VerdictFor(%q) = %v, want %v", status, got, want)
		}
	}
}
