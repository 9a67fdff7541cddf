package messaging

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/logging"
)

// CommandFunc is a use case that handles one SIM command.
type CommandFunc func(ctx context.Context, cmd events.SimCommand) error

// CommandHandler adapts a use case to Watermill: decode, run with a logger
// carrying the ICCID, ack on success, nack on error so SQS redelivers (and
// moves the message to the DLQ after the queue's maxReceiveCount).
func CommandHandler(handle CommandFunc, logger *slog.Logger) message.NoPublishHandlerFunc {
	return func(msg *message.Message) error {
		cmd, err := events.DecodeSimCommand(msg.Payload)
		if err != nil {
			logger.Error("invalid command", "message_uuid", msg.UUID, "error", err)
			return err
		}
		log := logger.With("iccid", cmd.ICCID, "kind", cmd.Kind)
		if err := handle(logging.WithContext(msg.Context(), log), cmd); err != nil {
			log.Error("command failed, will be redelivered", "error", err)
			return err
		}
		log.Debug("command done")
		return nil
	}
}

// AddWorkers registers n handlers on one queue so n messages (of different
// SIMs: FIFO keeps each group in order) are processed in parallel.
func AddWorkers(r *message.Router, name, queue string, sub message.Subscriber, n int, h message.NoPublishHandlerFunc) {
	for i := range max(n, 1) {
		r.AddConsumerHandler(fmt.Sprintf("%s-%d", name, i), queue, sub, h)
	}
}
