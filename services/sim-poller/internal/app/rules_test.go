package app_test

import (
	"context"
	"sync"
	"testing"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simrec/simrectest"
	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
	"github.com/simbridge/simbridge/services/sim-poller/internal/domain"
)

// memoryConflicts is app.Conflicts in memory.
type memoryConflicts struct {
	mu    sync.Mutex
	known map[string][]string
}

func (m *memoryConflicts) Claimants(_ context.Context, ips []string) (map[string][]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string][]string{}
	for _, ip := range ips {
		if ids, ok := m.known[ip]; ok {
			out[ip] = ids
		}
	}
	return out, nil
}

func (m *memoryConflicts) Note(_ context.Context, checked []string, found map[string][]string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.known = app.MergeConflicts(m.known, checked, found)
	return nil
}

func (m *memoryConflicts) Replace(ctx context.Context, found map[string][]string) error {
	m.mu.Lock()
	m.known = nil
	m.mu.Unlock()
	var ips []string
	for ip := range found {
		ips = append(ips, ip)
	}
	return m.Note(ctx, ips, found)
}

// TestTargetedSyncRuleCases: a targeted sync of one SIM decides the cases
// every path runs (simrectest.RuleCases) as the full sync does, and so
// does its dry run, which publishes nothing. A full sync ran before, as it
// does at start and on the schedule (as a dry run here, so that the records
// stay as the case has them): it remembers the IP conflicts it listed.
func TestTargetedSyncRuleCases(t *testing.T) {
	t.Parallel()
	for _, tc := range simrectest.RuleCases {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			c := tc.In(1, simrectest.ICCIDs("89882806660000001"))
			w := newTargetWorld(t)
			w.syncer.Conflicts = &memoryConflicts{}
			for _, r := range c.Records {
				rec := simrec.Record{ICCID: r.ICCID, IP: r.IP, Status: r.Summary().Status, LastCommand: "seed"}
				rec.SetState(r.State)
				if _, err := w.store.Create(context.Background(), rec); err != nil {
					t.Fatal(err)
				}
			}
			for _, l := range c.Once {
				s := domain.RemoteSIM{ICCID: l.ICCID, Status: l.Status, IP: l.IP}
				w.sims.set(s)
				w.inv.sims = append(w.inv.sims, s)
			}
			if _, err := w.syncer.Plan(context.Background()); err != nil {
				t.Fatal(err)
			}
			if len(w.sent()) != 0 {
				t.Fatalf("the full dry run published %v", w.sent())
			}

			plan, err := w.syncer.PlanSIMs(context.Background(), []string{c.SIM}, w.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			before := len(w.sent())
			sum, err := w.syncer.SyncSIMs(context.Background(), []string{c.SIM}, w.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]events.Kind{}
			for _, cmd := range w.sent()[before:] {
				got[cmd.ICCID] = cmd.Kind
			}
			if got[c.SIM] != c.Change {
				t.Errorf("published %q for the SIM, want %q (all: %v)", got[c.SIM], c.Change, got)
			}
			for other, want := range c.Others {
				if got[other] != want {
					t.Errorf("%s: published %q, want %q", other, got[other], want)
				}
			}
			for name, s := range map[string]app.TargetSummary{"sync": sum, "dry run": plan} {
				if len(s.SIMs) != 1 || s.SIMs[0].Problem != c.Problem {
					t.Errorf("%s: outcome %+v, want problem %q", name, s.SIMs, c.Problem)
				}
			}
			want := string(c.Change)
			if want == "" {
				want = app.OutcomeUnchanged
				if c.Problem != "" {
					want = app.OutcomeSkipped
				}
				if c.Listed(c.SIM) == nil {
					want = app.OutcomeNotFound
				}
			}
			if o := plan.SIMs[0]; o.Outcome != want && !(want == app.OutcomeNotFound && o.Outcome == app.OutcomeUnchanged) {
				t.Errorf("dry run outcome %q, want %q", o.Outcome, want)
			}
			if len(plan.Published) != 0 || plan.Planned[string(c.Change)] == 0 && c.Change != "" {
				t.Errorf("dry run published %v, planned %v", plan.Published, plan.Planned)
			}
		})
	}
}
