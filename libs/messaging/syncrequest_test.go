package messaging_test

import (
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/messaging"
)

func TestSyncRequestMessagesAreGroupedByKind(t *testing.T) {
	t.Parallel()
	full, err := messaging.NewSyncRequestMessage(events.SyncRequest{ID: "op-1", Source: events.SourceOperator, RequestedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	targeted, err := messaging.NewSyncRequestMessage(events.SyncRequest{ID: "op-2", ICCIDs: []string{"8988280666000000001"}, Source: events.SourceOperator})
	if err != nil {
		t.Fatal(err)
	}
	if g := full.Metadata.Get(messaging.MetadataGroupID); g != messaging.FullSyncGroup {
		t.Errorf("full sync in group %q, want %q", g, messaging.FullSyncGroup)
	}
	if g, d := targeted.Metadata.Get(messaging.MetadataGroupID), targeted.Metadata.Get(messaging.MetadataDeduplicationID); g != "op-2" || d != "op-2" {
		t.Errorf("targeted request: group %q dedup %q, want the request id", g, d)
	}
	if _, err := messaging.NewSyncRequestMessage(events.SyncRequest{ID: "x", ICCIDs: []string{"1"}}); err == nil {
		t.Error("an invalid request must not be sent")
	}
	if _, err := events.DecodeSyncRequest(targeted.Payload); err != nil {
		t.Errorf("the body does not decode: %v", err)
	}
}
