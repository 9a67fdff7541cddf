// Package ports is what calls the provisioner: the SQS FIFO queue of
// create, update and reissue commands.
package ports

import (
	"context"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/messaging"
)

// Commands is the use case the queue's commands go to (app.Provisioner).
type Commands interface {
	Handle(ctx context.Context, cmd events.SimCommand) error
}

// ServeQueue consumes the queue opts names until ctx ends. The use case is
// built by start once the ops listener is up: until then the task is live
// but not ready and the commands wait in the queue (on the first deploy the
// IoT CA is registered after the stack). Each message is then decoded into
// its command (malformed ones go to the DLQ), measured and handed to the
// use case, behind the queue's failure policy (retries, DLQ, one failure
// notification); in-flight commands finish within the shutdown timeout.
func ServeQueue(ctx context.Context, opts messaging.ConsumerOptions, start func(context.Context) (Commands, error),
	measure func(messaging.CommandFunc) messaging.CommandFunc) error {
	var handle messaging.CommandFunc
	opts.Prepare = func(ctx context.Context) error {
		uc, err := start(ctx)
		if err != nil {
			return err
		}
		handle = measure(uc.Handle)
		return nil
	}
	return messaging.RunConsumers(ctx, opts, messaging.CommandHandler(func(ctx context.Context, cmd events.SimCommand) error {
		return handle(ctx, cmd)
	}))
}
