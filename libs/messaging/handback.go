package messaging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill-aws/sqs"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"
	"github.com/prometheus/client_golang/prometheus"
)

// A service that stops hands back what it received but has not started:
// another replica takes it at once instead of after the queue's visibility
// timeout (a minute of lost real time per rolling deploy otherwise).
// Three places can hold such a message:
//
//  1. A receive under way (a long poll) when the service stops. Cancelling
//     it loses what SQS hands to it meanwhile: SQS does not know the caller
//     went away, and the messages stay hidden for the visibility timeout.
//     So a receive is never cut short (finishReceives); its long poll is a
//     fifth of the shutdown timeout (ShutdownSplit), and what it returns is
//     delivered and handed back by the next step.
//  2. A message delivered to a worker after the service began to stop, or
//     one waiting for another message of its group to finish
//     (Consumer.Middleware): handed back before its handler runs.
//  3. Work a handler stopped because the service stops (an error wrapping
//     ErrInterrupted, e.g. sim-poller's sync requests): handed back at once,
//     not after a retry backoff, and not noted as a failure.
//
// Handing back is ChangeMessageVisibility to 0 (watermill-aws's Nack
// changes nothing). Work in flight is not handed back: it finishes.

// ErrInterrupted marks a handler's error when it stopped its work because
// the service is stopping: the message is handed back for another replica.
var ErrInterrupted = errors.New("interrupted by shutdown")

// errHandedBack is returned for a message handed back before it started;
// it wraps context.Canceled, which Watermill's router does not log as a
// handler failure.
var errHandedBack = fmt.Errorf("handed back at shutdown: %w", context.Canceled)

// ShutdownSplit divides a service's shutdown timeout between the receive
// under way, which is never cut short, and the work in flight: the long
// poll lasts a fifth of it (1-20 s) and the router waits for in-flight
// messages the rest, so the service still exits within the timeout.
func ShutdownSplit(timeout time.Duration) (poll time.Duration, closeTimeout time.Duration) {
	poll = min(max((timeout/5).Truncate(time.Second), time.Second), 20*time.Second)
	return poll, max(timeout-poll, time.Second)
}

// NewConsumerRouter returns the subscriber and router of a queue-consuming
// service that stops within shutdown (ShutdownSplit), handing back what it
// received but did not start.
func NewConsumerRouter(cfg aws.Config, logger *slog.Logger, reg prometheus.Registerer, shutdown time.Duration) (*message.Router, *sqs.Subscriber, error) {
	wlog := Logger(logger)
	poll, closeTimeout := ShutdownSplit(shutdown)
	sub, err := NewSQSSubscriber(cfg, wlog, SubscriberOptions{WaitTimeSeconds: int32(poll / time.Second)})
	if err != nil {
		return nil, nil, err
	}
	router, err := NewRouter(wlog, reg, closeTimeout)
	if err != nil {
		return nil, nil, err
	}
	return router, sub, nil
}

// finishReceives lets a ReceiveMessage call under way complete when its
// caller's context ends (step 1 above): the messages it returns reach the
// consumer's middleware, which hands them back. A receive asked for after
// the context ended is not sent (watermill-aws's loop may try once more).
func finishReceives(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("simbridgeFinishReceives",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if _, ok := in.Parameters.(*awssqs.ReceiveMessageInput); ok {
				if err := ctx.Err(); err != nil {
					return middleware.InitializeOutput{}, middleware.Metadata{}, err
				}
				ctx = context.WithoutCancel(ctx)
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

// handBack makes a received message visible again at once, for another
// replica; if that fails it comes back after the visibility timeout.
func (c *Consumer) handBack(ctx context.Context, msg *message.Message, why string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, err := c.sqs.ChangeMessageVisibility(ctx, &awssqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(c.queueURL), ReceiptHandle: aws.String(msg.Metadata.Get(MetaReceiptHandle)), VisibilityTimeout: 0,
	})
	if err != nil {
		c.logger.Warn("message not handed back; it returns after the visibility timeout", "queue", c.queue,
			"group", msg.Metadata.Get(MetaGroupID), "visibility_timeout", c.visibility, "error", err)
		return
	}
	c.logger.Info("message handed back to the queue at shutdown", "queue", c.queue, "group", msg.Metadata.Get(MetaGroupID), "why", why)
}
