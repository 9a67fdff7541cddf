package adapters

import (
	"context"
	"errors"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/messaging"
)

// CommandQueue sends enrol commands to the provisioner's create queue, the
// way sim-poller sends its commands: grouped by ICCID (after the SIM's
// other commands), deduplicated per command and record version.
type CommandQueue struct {
	pub   *messaging.SQSPublisher
	queue string
}

// NewCommandQueue returns the sender to queue (the queue's name).
func NewCommandQueue(cfg aws.Config, queue string, logger *slog.Logger) (*CommandQueue, error) {
	if queue == "" {
		return nil, errors.New("command queue: a queue name is required")
	}
	return &CommandQueue{pub: messaging.NewSQSPublisher(cfg, logger), queue: queue}, nil
}

// Send puts cmd on the queue with the caller's deadline.
func (q *CommandQueue) Send(ctx context.Context, cmd events.SimCommand) error {
	msg, err := messaging.NewCommandMessage(cmd)
	if err != nil {
		return err
	}
	return messaging.Publish(ctx, q.pub, q.queue, msg)
}
