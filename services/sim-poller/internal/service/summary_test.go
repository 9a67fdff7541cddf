package service_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/services/sim-poller/internal/service"
)

// TestOneSummaryPerRun: a run that changed SIMs sends one message with
// counts to the summary topic (operators' e-mail), not one per SIM.
func TestOneSummaryPerRun(t *testing.T) {
	t.Parallel()
	e := standard(listed)(t)
	inbox := testkit.SubscribeInbox(t, e.aws, e.res.SummaryTopicARN)
	p := e.poller(t, func(c *service.Config) { c.SummaryTopicARN = e.res.SummaryTopicARN })
	if _, err := p.Syncer.Sync(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	got := inbox.Drain(t, 0)
	if len(got) != 1 {
		t.Fatalf("%d summaries, want 1: %v", len(got), got)
	}
	var s events.SyncSummary
	if err := json.Unmarshal([]byte(got[0]), &s); err != nil || s.Timestamp == 0 || s.Listed != listed ||
		s.Published["create"] != 5 || s.Published["disable"] != 1 || !strings.Contains(s.Message, "5 create") {
		t.Fatalf("summary %s (%v)", got[0], err)
	}
}
