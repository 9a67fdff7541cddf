// Package adapters connects sim-poller's use case to SQS, SNS, DynamoDB and Prometheus.
package adapters

import (
	"context"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/messaging"
)

// CommandPublisher routes commands to their FIFO queue: create and update to
// the provisioner's queue, disable to the deactivator's.
type CommandPublisher struct {
	pub          message.Publisher
	createQueue  string
	disableQueue string
}

// NewCommandPublisher returns a publisher for the two queues.
func NewCommandPublisher(pub message.Publisher, createQueue, disableQueue string) *CommandPublisher {
	return &CommandPublisher{pub: pub, createQueue: createQueue, disableQueue: disableQueue}
}

// Publish sends cmd, grouped by ICCID and deduplicated per change.
func (p *CommandPublisher) Publish(_ context.Context, cmd events.SimCommand) error {
	msg, err := messaging.NewCommandMessage(cmd)
	if err != nil {
		return err
	}
	queue := p.createQueue
	if cmd.Kind == events.KindDisable {
		queue = p.disableQueue
	}
	if err := p.pub.Publish(queue, msg); err != nil {
		return fmt.Errorf("publish %s of %s to %s: %w", cmd.Kind, cmd.ICCID, queue, err)
	}
	return nil
}
