package messaging

import (
	"context"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/simbridge/simbridge/libs/events"
)

// Notifier publishes the reference-compatible success and failure
// notifications that operators subscribe to (e-mail, chat, tickets): JSON
// {"iccid","ip","timestamp","message"} (iccid omitted when empty, as the
// gateway's notifications have none). It is the one notifier of every
// service; an empty topic ARN disables that kind.
type Notifier struct {
	pub             message.Publisher
	successTopicARN string
	failureTopicARN string
	now             func() time.Time
}

// NewNotifier returns a notifier publishing to the two topics through pub.
func NewNotifier(pub message.Publisher, successTopicARN, failureTopicARN string) *Notifier {
	return &Notifier{pub: pub, successTopicARN: successTopicARN, failureTopicARN: failureTopicARN, now: time.Now}
}

// Success announces that a SIM reached a state (events.MessageEnabled, …).
func (n *Notifier) Success(ctx context.Context, iccid, ip, msg string) error {
	return n.publish(ctx, n.successTopicARN, events.NewNotification(n.now(), iccid, ip, msg))
}

// Failure announces work that failed and needs an operator; iccid and ip may
// be empty when unknown.
func (n *Notifier) Failure(ctx context.Context, iccid, ip, msg string) error {
	return n.publish(ctx, n.failureTopicARN, events.NewNotification(n.now(), iccid, ip, msg))
}

func (n *Notifier) publish(ctx context.Context, topicARN string, note events.Notification) error {
	if topicARN == "" {
		return nil
	}
	body, err := note.Encode()
	if err != nil {
		return fmt.Errorf("encode notification: %w", err)
	}
	if err := Publish(ctx, n.pub, topicARN, message.NewMessage(watermill.NewUUID(), body)); err != nil {
		return fmt.Errorf("publish notification to %s: %w", topicARN, err)
	}
	return nil
}
