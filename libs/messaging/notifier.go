package messaging

import (
	"context"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-aws/sns"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/simbridge/simbridge/libs/events"
)

// NewSNSPublisher returns a publisher whose Watermill topic is the SNS topic
// ARN. It never creates topics.
func NewSNSPublisher(cfg aws.Config, logger watermill.LoggerAdapter) (*sns.Publisher, error) {
	pub, err := sns.NewPublisher(sns.PublisherConfig{
		AWSConfig:                   cfg,
		DoNotCreateTopicIfNotExists: true,
		TopicResolver:               sns.TransparentTopicResolver{},
	}, logger)
	if err != nil {
		return nil, fmt.Errorf("sns publisher: %w", err)
	}
	return pub, nil
}

// Notifier publishes the reference-compatible success and failure
// notifications that operators subscribe to (e-mail, chat, tickets).
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
func (n *Notifier) Success(_ context.Context, iccid, ip, msg string) error {
	return n.publish(n.successTopicARN, events.NewNotification(n.now(), iccid, ip, msg))
}

// Failure announces work that failed and needs an operator; iccid and ip may
// be empty when unknown.
func (n *Notifier) Failure(_ context.Context, iccid, ip, msg string) error {
	return n.publish(n.failureTopicARN, events.NewNotification(n.now(), iccid, ip, msg))
}

func (n *Notifier) publish(topicARN string, note events.Notification) error {
	body, err := note.Encode()
	if err != nil {
		return fmt.Errorf("encode notification: %w", err)
	}
	if err := n.pub.Publish(topicARN, message.NewMessage(watermill.NewUUID(), body)); err != nil {
		return fmt.Errorf("publish notification to %s: %w", topicARN, err)
	}
	return nil
}
