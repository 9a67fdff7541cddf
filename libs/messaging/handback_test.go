package messaging_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/messaging"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
)

// longVisibility is the queues' visibility timeout in these tests: a
// message that was not handed back stays hidden that long, far beyond what
// the tests wait.
const longVisibility = 60 * time.Second

// handedBackWithin bounds how long another consumer may take to get a
// message handed back: far below longVisibility.
const handedBackWithin = 15 * time.Second

func longVisibilityQueues(t *testing.T) bootstrap.Resources {
	t.Helper()
	res, err := bootstrap.Ensure(context.Background(), testkit.AWSConfig(t), bootstrap.Names{Prefix: testkit.Name(t)},
		bootstrap.Options{VisibilityTimeout: longVisibility, MaxReceiveCount: 5})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// consume runs RunConsumers on the create queue with cfg until the returned
// stop is called; stop reports how RunConsumers ended.
func consume(t *testing.T, cfg aws.Config, res bootstrap.Resources, shutdown time.Duration, handle messaging.CommandFunc) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- messaging.RunConsumers(ctx, messaging.ConsumerOptions{
			Name: "test", Queue: res.CreateQueue(), Workers: 1, OpsAddr: "127.0.0.1:0", ShutdownTimeout: shutdown,
			AWS: cfg, Notifier: noNotes{}, Registry: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler),
		}, messaging.CommandHandler(handle))
	}()
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(shutdown + 5*time.Second):
			return fmt.Errorf("RunConsumers still running %v after it was stopped", shutdown+5*time.Second)
		}
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// A consumer stopped while its long poll waits in SQS does not cut the poll
// short (SQS would still hand it the next message, hidden for the visibility
// timeout with nobody to work on it): the message the poll returns is handed
// back, another consumer handles it within seconds instead of a minute, and
// the stopped one never starts it and exits cleanly within its timeout.
func TestAConsumerStoppedMidReceiveHandsBackWhatItGets(t *testing.T) {
	t.Parallel()
	res := longVisibilityQueues(t)
	cfg := testkit.AWSConfig(t)
	polling := make(chan struct{}, 1)
	polls := testkit.BeforeSending(cfg, "ReceiveMessage", func() {
		select {
		case polling <- struct{}{}:
		default:
		}
	})
	var startedByStopped atomic.Int32
	stopA := consume(t, polls, res, 25*time.Second, func(context.Context, events.SimCommand) error {
		startedByStopped.Add(1)
		return nil
	})
	select {
	case <-polling:
	case <-time.After(30 * time.Second):
		t.Fatal("the consumer never polled")
	}
	stoppedA := make(chan error, 1)
	go func() { stoppedA <- stopA() }()
	const iccid = "8988280666000000501"
	publishOne(t, res, iccid)
	published := time.Now()

	handled := make(chan string, 1)
	consume(t, cfg, res, 10*time.Second, func(_ context.Context, cmd events.SimCommand) error {
		handled <- cmd.ICCID
		return nil
	})
	select {
	case got := <-handled:
		if got != iccid {
			t.Fatalf("handled %s, want %s", got, iccid)
		}
		t.Logf("the other consumer handled the message %v after it was sent", time.Since(published).Round(time.Millisecond))
	case <-time.After(handedBackWithin):
		t.Fatalf("the message sent while the stopped consumer was polling did not reach another consumer within %v (visibility timeout %v): not handed back",
			handedBackWithin, longVisibility)
	}
	if err := <-stoppedA; err != nil {
		t.Fatalf("stopped consumer: %v", err)
	}
	if n := startedByStopped.Load(); n != 0 {
		t.Fatalf("the stopped consumer started %d messages after it was stopped", n)
	}
}

// recordingObserver counts retries and dead-letters.
type recordingObserver struct{ retries, dead atomic.Int32 }

func (o *recordingObserver) Retried(string)              { o.retries.Add(1) }
func (o *recordingObserver) DeadLettered(string, string) { o.dead.Add(1) }

// received takes the create queue's next message (waiting up to wait) and
// wraps it as the consumer's subscriber does, with ctx as its context.
func received(t *testing.T, q *sqs.Client, res bootstrap.Resources, wait int32, ctx context.Context) *message.Message {
	t.Helper()
	out, err := q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(res.CreateQueueURL), WaitTimeSeconds: wait, MaxNumberOfMessages: 1,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) == 0 {
		return nil
	}
	m := out.Messages[0]
	msg := message.NewMessage(aws.ToString(m.MessageId), []byte(aws.ToString(m.Body)))
	msg.Metadata.Set(messaging.MetaReceiptHandle, aws.ToString(m.ReceiptHandle))
	msg.Metadata.Set(messaging.MetaMessageID, aws.ToString(m.MessageId))
	msg.Metadata.Set(messaging.MetaGroupID, m.Attributes["MessageGroupId"])
	msg.Metadata.Set(messaging.MetaReceiveCount, m.Attributes["ApproximateReceiveCount"])
	msg.SetContext(ctx)
	return msg
}

// A message whose handling has not begun when the service stops goes back
// to the queue at once (visibility 0), whether it reached a worker after the
// stop, was waiting behind another delivery of its group, or its handler
// stopped because the service stops; it is not counted as a failure.
func TestMessagesNotStartedAtShutdownAreHandedBack(t *testing.T) {
	t.Parallel()
	stopped, stop := context.WithCancel(context.Background())
	stop()
	tests := []struct {
		name string
		// deliver hands the received message to the consumer's middleware
		// and returns once the middleware returned; it reports whether the
		// handler started.
		deliver func(t *testing.T, c *messaging.Consumer, q *sqs.Client, res bootstrap.Resources) (started bool)
	}{
		{"received as the service stopped", func(t *testing.T, c *messaging.Consumer, q *sqs.Client, res bootstrap.Resources) bool {
			var started bool
			_, err := c.Middleware(func(*message.Message) ([]*message.Message, error) { started = true; return nil, nil })(received(t, q, res, 5, stopped))
			if err == nil {
				t.Error("middleware acked a message it did not handle")
			}
			return started
		}},
		{"waiting for its group as the service stopped", func(t *testing.T, c *messaging.Consumer, q *sqs.Client, res bootstrap.Resources) bool {
			// The first delivery is still at work when its visibility runs
			// out (1 s here); the second waits for it, then the service stops.
			first, err := q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
				QueueUrl: aws.String(res.CreateQueueURL), WaitTimeSeconds: 5, VisibilityTimeout: 1,
				MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
			})
			if err != nil || len(first.Messages) != 1 {
				t.Fatalf("first delivery: %v", err)
			}
			firstMsg := message.NewMessage("first", []byte(aws.ToString(first.Messages[0].Body)))
			firstMsg.Metadata.Set(messaging.MetaReceiptHandle, aws.ToString(first.Messages[0].ReceiptHandle))
			firstMsg.Metadata.Set(messaging.MetaGroupID, first.Messages[0].Attributes["MessageGroupId"])
			working, release := make(chan struct{}), make(chan struct{})
			firstDone := make(chan struct{})
			go func() {
				defer close(firstDone)
				_, _ = c.Middleware(func(*message.Message) ([]*message.Message, error) {
					close(working)
					<-release
					return nil, nil
				})(firstMsg)
			}()
			<-working
			ctx, stopSecond := context.WithCancel(context.Background())
			second := received(t, q, res, 5, ctx)
			if second == nil {
				t.Fatal("no second delivery")
			}
			var started atomic.Bool
			secondDone := make(chan error, 1)
			go func() {
				_, err := c.Middleware(func(*message.Message) ([]*message.Message, error) { started.Store(true); return nil, nil })(second)
				secondDone <- err
			}()
			stopSecond()
			if err := <-secondDone; err == nil {
				t.Error("middleware acked a delivery it did not handle")
			}
			close(release)
			<-firstDone
			return started.Load()
		}},
		{"its handler stopped for the shutdown", func(t *testing.T, c *messaging.Consumer, q *sqs.Client, res bootstrap.Resources) bool {
			msg := received(t, q, res, 5, context.Background())
			_, err := c.Middleware(func(*message.Message) ([]*message.Message, error) {
				return nil, fmt.Errorf("sync request: %w: listing stopped", messaging.ErrInterrupted)
			})(msg)
			if err == nil {
				t.Error("middleware acked an interrupted message")
			}
			return false
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := longVisibilityQueues(t)
			q := sqsClient(t)
			obs := &recordingObserver{}
			c, err := messaging.NewConsumer(context.Background(), q, res.CreateQueue(), noNotes{}, obs, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			iccid := fmt.Sprintf("89882806660000006%02d", i)
			publishOne(t, res, iccid)
			if started := tc.deliver(t, c, q, res); started {
				t.Fatal("the handler ran for a message received after the stop")
			}
			back := received(t, q, res, int32(handedBackWithin/time.Second), context.Background())
			if back == nil {
				t.Fatalf("the message did not come back within %v (visibility timeout %v): not handed back", handedBackWithin, longVisibility)
			}
			if cmd, err := events.DecodeSimCommand(back.Payload); err != nil || cmd.ICCID != iccid {
				t.Fatalf("came back: %s (%v), want the command for %s", back.Payload, err, iccid)
			}
			if obs.retries.Load() != 0 || obs.dead.Load() != 0 {
				t.Errorf("counted %d retries and %d dead-letters for a message handed back at shutdown", obs.retries.Load(), obs.dead.Load())
			}
		})
	}
}
