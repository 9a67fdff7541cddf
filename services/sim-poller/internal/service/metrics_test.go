package service

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/simbridge/simbridge/libs/lease"
	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
)

// TestFailedRunsAreCountedByCause: the cause label the alarms and the
// dashboard read names the first cause that applies.
func TestFailedRunsAreCountedByCause(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want string
	}{
		{name: "lease lost outranks the interruption it causes", err: errors.Join(app.ErrInterrupted, lease.ErrLost), want: "lease_lost"},
		{name: "deadline", err: fmt.Errorf("%w (%w)", app.ErrInterrupted, context.DeadlineExceeded), want: "timeout"},
		{name: "shutdown", err: fmt.Errorf("%w (%w)", app.ErrInterrupted, context.Canceled), want: "interrupted"},
		{name: "credentials", err: fmt.Errorf("list: %w", onceapi.ErrBadCredentials), want: "credentials"},
		{name: "listing that does not add up", err: fmt.Errorf("list: %w", onceapi.ErrIncomplete), want: "listing_incomplete"},
		{name: "invalid JSON", err: fmt.Errorf("list: %w", onceapi.ErrInvalidResponse), want: "invalid_json"},
		{name: "guard", err: app.ErrGuardRefused, want: "guard_refused"},
		{name: "unconfirmed absent SIMs", err: app.ErrUnconfirmed, want: "confirmation_failed"},
		{name: "anything else", err: errors.New("sqs down"), want: "other"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := newMetrics(prometheus.NewRegistry())
			m.Run(app.Summary{}, tc.err)
			if got := value(t, m.failures.WithLabelValues(tc.want)); got != 1 {
				t.Fatalf("run_failures_total{cause=%q} = %v, want 1", tc.want, got)
			}
			if got := value(t, m.runs.WithLabelValues("failure")); got != 1 {
				t.Fatalf("runs_total{result=failure} = %v, want 1", got)
			}
		})
	}
}

// TestASuccessfulRunSetsWhatOperatorsWatch: counts by kind and state, and
// the time of the last success (the stale-sync alarm).
func TestASuccessfulRunSetsWhatOperatorsWatch(t *testing.T) {
	t.Parallel()
	m := newMetrics(prometheus.NewRegistry())
	sum := app.Summary{Listed: 30, Unchanged: 25, Published: map[string]int{"create": 5}, Problems: map[string]int{"no_ip": 2}, DurationSeconds: 1}
	m.Run(sum, nil)
	m.Skipped()
	for _, c := range []struct {
		name string
		got  prometheus.Metric
		want float64
	}{
		{"published create", m.published.WithLabelValues("create"), 5},
		{"listed", m.simsByState.WithLabelValues("listed"), 30},
		{"skipped no_ip", m.skipped.WithLabelValues("no_ip"), 2},
		{"success", m.runs.WithLabelValues("success"), 1},
		{"skipped run", m.runs.WithLabelValues("skipped"), 1},
	} {
		if got := value(t, c.got); got != c.want {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	if value(t, m.lastSuccess) == 0 {
		t.Error("last_success_timestamp_seconds not set")
	}
}

// value reads one counter or gauge.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		t.Fatal(err)
	}
	return out.GetCounter().GetValue() + out.GetGauge().GetValue()
}
