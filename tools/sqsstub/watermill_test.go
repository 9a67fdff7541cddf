package sqsstub_test

import (
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/messaging"
)

// TestWatermillThroughMessaging runs the services' own messaging code
// (watermill-aws publisher and subscriber as libs/messaging configures
// them, and the consumer's queue inspection) against the stub.
func TestWatermillThroughMessaging(t *testing.T) {
	t.Parallel()
	s := startStub(t)
	url, _ := s.fifoPair("wm-create", 5)
	queue := "wm-create.fifo"
	pub := messaging.NewSQSPublisher(s.cfg, slog.New(slog.DiscardHandler))
	a, b := "8988280666000000001", "8988280666000000002"
	sent := []events.SimCommand{command(a, 0), command(b, 0), command(a, 0), command(a, 1), command(a, 2)}
	for _, c := range sent { // the second command(a, 0) is a duplicate and must be dropped
		msg, err := messaging.NewCommandMessage(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := pub.Publish(queue, msg); err != nil {
			t.Fatal(err)
		}
	}
	versions := receiveCommands(t, s, queue, url, 4)
	if !slices.Equal(versions[a], []int64{0, 1, 2}) || !slices.Equal(versions[b], []int64{0}) {
		t.Fatalf("per-SIM order or deduplication broken: %v", versions)
	}
	consumer, err := messaging.NewConsumer(s.ctx, s.sqs, queue, nil, nil, slog.New(slog.DiscardHandler))
	if err != nil || consumer.MaxReceives() != 5 {
		t.Fatalf("consumer reads the redrive policy: %v, max receives %d", err, consumer.MaxReceives())
	}
}

// receiveCommands subscribes to queue, acks n messages and returns the
// base versions received per ICCID, checking the metadata consumers use
// and that the acks deleted the messages.
func receiveCommands(t *testing.T, s *stub, queue, url string, n int) map[string][]int64 {
	t.Helper()
	sub, err := messaging.NewSQSSubscriber(s.cfg, messaging.Logger(slog.New(slog.DiscardHandler)), messaging.SubscriberOptions{WaitTimeSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ch, err := sub.Subscribe(s.ctx, queue)
	if err != nil {
		t.Fatal(err)
	}
	versions := map[string][]int64{}
	for range n {
		select {
		case msg := <-ch:
			c, err := events.DecodeSimCommand(msg.Payload)
			if err != nil {
				t.Fatal(err)
			}
			md := msg.Metadata
			if md.Get(messaging.MetaGroupID) != c.ICCID || md.Get(messaging.MetaReceiveCount) != "1" || md.Get(messaging.MetaReceiptHandle) == "" {
				t.Errorf("metadata %v", md)
			}
			versions[c.ICCID] = append(versions[c.ICCID], c.BaseVersion)
			msg.Ack()
		case <-s.ctx.Done():
			t.Fatalf("received only %v", versions)
		}
	}
	waitEmpty(t, s, url) // before Close, which may win the race against the last ack's delete
	return versions
}

// waitEmpty waits for the subscriber's deletes, which follow the acks.
func waitEmpty(t *testing.T, s *stub, url string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		n := s.attrs(url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
		if n["ApproximateNumberOfMessages"] == "0" && n["ApproximateNumberOfMessagesNotVisible"] == "0" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("acked messages must be deleted: %v", n)
		}
	}
}

func command(iccid string, version int64) events.SimCommand {
	return events.SimCommand{Kind: events.KindCreate, ICCID: iccid, IP: "10.0.0.1", Status: "Enabled", BaseVersion: version, ObservedAt: time.Now()}
}
