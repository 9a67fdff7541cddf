// Package ports is what calls the deactivator: the SQS FIFO queue of
// disable and revoke commands.
package ports

import (
	"context"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/messaging"
)

// Commands is the use case the queue's commands go to (app.Deactivator).
type Commands interface {
	Handle(ctx context.Context, cmd events.SimCommand) error
}

// ServeQueue consumes the queue opts names until ctx ends. Each message is
// decoded into its command (malformed ones go to the DLQ), measured and
// handed to the use case, behind the queue's failure policy (retries,
// DLQ, one failure notification); in-flight commands then finish within
// the shutdown timeout.
func ServeQueue(ctx context.Context, opts messaging.ConsumerOptions, uc Commands, measure func(messaging.CommandFunc) messaging.CommandFunc) error {
	return messaging.RunConsumers(ctx, opts, messaging.CommandHandler(measure(uc.Handle)))
}
