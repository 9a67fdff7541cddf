package app

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/simbridge/simbridge/libs/events"
)

// Summaries sends the one summary of a sync run (the summary topic, which
// operators' e-mail subscribes to instead of the per-SIM success topic).
type Summaries interface {
	Summary(ctx context.Context, s events.SyncSummary) error
}

// realtimeCounts adds up the commands targeted syncs published since the
// last summary, so Data Streamer changes are reported too, in the next
// full run's summary rather than one message per hint.
type realtimeCounts struct {
	mu sync.Mutex
	m  map[string]int
}

func (r *realtimeCounts) add(published map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]int{}
	}
	for k, n := range published {
		r.m[k] += n
	}
}

func (r *realtimeCounts) take() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.m
	r.m = nil
	return m
}

// summarize sends the run's summary when the run or the real-time path
// published anything since the last one (an unchanged fleet sends no mail
// every SYNC_INTERVAL).
func (s *Syncer) summarize(ctx context.Context, sum Summary, runErr error) {
	if s.Summaries == nil {
		return
	}
	rt := s.realtime.take()
	if total(sum.Published) == 0 && total(rt) == 0 {
		return
	}
	out := events.NewSyncSummary(s.Clock.Now())
	out.Published, out.RealtimePublished, out.Listed, out.Failed = sum.Published, rt, sum.Listed, runErr != nil
	if len(sum.Problems) > 0 {
		out.Skipped = sum.Problems
	}
	out.Message = summaryMessage(sum, rt, runErr)
	if err := s.Summaries.Summary(context.WithoutCancel(ctx), out); err != nil {
		s.realtime.add(rt)
		s.Logger.Error("sync summary not sent", "error", err)
	}
}

// summaryMessage is the summary in one sentence.
func summaryMessage(sum Summary, rt map[string]int, runErr error) string {
	msg := fmt.Sprintf("SIM sync: %d SIMs listed by 1NCE; commands sent: %s", sum.Listed, kinds(sum.Published))
	if total(rt) > 0 {
		msg += "; from Data Streamer events and targeted syncs since the last summary: " + kinds(rt)
	}
	if n := sum.Problems["no_ip"]; n > 0 {
		msg += fmt.Sprintf("; %d SIMs without IP skipped", n)
	}
	if runErr != nil {
		msg += "; the run failed (see the failure notification)"
	}
	return msg + ". Per-SIM results are on the success and failure topics."
}

func kinds(m map[string]int) string {
	if total(m) == 0 {
		return "none"
	}
	var parts []string
	for k, n := range m {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, k))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
