// Package adapters is what sim-poller calls, behind the interfaces its use
// cases declare: the 1NCE Management API (libs/onceapi, with the sharing of
// its rate between listings and lookups), DynamoDB (results, the lease),
// SQS and SNS publishers, and the Data Streamer's credentials.
package adapters

import (
	"context"
	"fmt"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/messaging"
)

// CommandPublisher routes commands to their FIFO queue by kind
// (events.Kind.Queue): creates to the provisioner's create queue, IP moves to
// its update queue, disables to the deactivator's.
type CommandPublisher struct {
	pub    message.Publisher
	queues map[events.QueueName]string
}

// NewCommandPublisher returns a publisher for the three queues.
func NewCommandPublisher(pub message.Publisher, createQueue, updateQueue, disableQueue string) *CommandPublisher {
	return &CommandPublisher{pub: pub, queues: map[events.QueueName]string{
		events.CreateQueue: createQueue, events.UpdateQueue: updateQueue, events.DisableQueue: disableQueue}}
}

// Publish sends cmd, grouped by ICCID and deduplicated per change.
func (p *CommandPublisher) Publish(ctx context.Context, cmd events.SimCommand) error {
	msg, err := messaging.NewCommandMessage(cmd)
	if err != nil {
		return err
	}
	queue := p.queues[cmd.Kind.Queue()]
	if err := messaging.Publish(ctx, p.pub, queue, msg); err != nil {
		return fmt.Errorf("publish %s of %s to %s: %w", cmd.Kind, cmd.ICCID, queue, err)
	}
	return nil
}

// SummaryTopic publishes sync summaries to their SNS topic.
type SummaryTopic struct {
	Pub      message.Publisher
	TopicARN string
}

// Summary publishes one run's summary.
func (t SummaryTopic) Summary(ctx context.Context, s events.SyncSummary) error {
	body, err := s.Encode()
	if err != nil {
		return fmt.Errorf("encode sync summary: %w", err)
	}
	if err := messaging.Publish(ctx, t.Pub, t.TopicARN, message.NewMessage(watermill.NewUUID(), body)); err != nil {
		return fmt.Errorf("publish sync summary to %s: %w", t.TopicARN, err)
	}
	return nil
}
