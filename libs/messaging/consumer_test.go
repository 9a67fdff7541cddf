package messaging_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/simbridge/simbridge/libs/bootstrap"
	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/messaging"
	"github.com/simbridge/simbridge/libs/testkit"
)

type noNotes struct{}

func (noNotes) Failure(context.Context, string, string, string) error { return nil }

// runConsumer runs handle on a fresh queue with a 2 s visibility timeout and
// returns the queue's resources and a stop function that reports how
// RunConsumers ended.
func runConsumer(t *testing.T, handle messaging.CommandFunc) (bootstrap.Resources, context.CancelFunc, <-chan error) {
	t.Helper()
	cfg := testkit.AWSConfig(t)
	res, err := bootstrap.Ensure(context.Background(), cfg, bootstrap.Names{Prefix: testkit.Name(t)},
		bootstrap.Options{VisibilityTimeout: 2 * time.Second, MaxReceiveCount: 5})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- messaging.RunConsumers(ctx, messaging.ConsumerOptions{
			Name: "test", Queue: res.CreateQueue(), Workers: 2, OpsAddr: "127.0.0.1:0", ShutdownTimeout: 10 * time.Second,
			AWS: cfg, Notifier: noNotes{}, Registry: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler),
		}, handle)
	}()
	t.Cleanup(cancel)
	return res, cancel, done
}

func publishOne(t *testing.T, res bootstrap.Resources, iccid string) {
	t.Helper()
	pub, err := messaging.NewSQSPublisher(testkit.AWSConfig(t), messaging.Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := messaging.NewCommandMessage(command(iccid, 0))
	if err := pub.Publish(res.CreateQueue(), msg); err != nil {
		t.Fatal(err)
	}
}

// Work longer than the visibility timeout keeps its message hidden: it is
// handled once, not again by another worker meanwhile.
func TestLongWorkKeepsItsMessageHidden(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	res, _, _ := runConsumer(t, func(ctx context.Context, _ events.SimCommand) error {
		calls.Add(1)
		time.Sleep(5 * time.Second)
		return nil
	})
	publishOne(t, res, "8988280666000000301")
	time.Sleep(9 * time.Second)
	if n := calls.Load(); n != 1 {
		t.Fatalf("handled %d times, want once: the message became visible while being worked on", n)
	}
}

// On shutdown the consumer stops receiving, lets in-flight work finish and
// returns nil; the finished message is deleted, not redelivered.
func TestShutdownFinishesInFlightWork(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	var finished atomic.Bool
	res, cancel, done := runConsumer(t, func(ctx context.Context, _ events.SimCommand) error {
		started <- struct{}{}
		time.Sleep(2 * time.Second)
		finished.Store(true)
		return nil
	})
	publishOne(t, res, "8988280666000000302")
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("message never handled")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("RunConsumers returned %v after a clean shutdown", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("shutdown not bounded")
	}
	if !finished.Load() {
		t.Fatal("in-flight work was cut off by the shutdown")
	}
	if left := testkit.DrainQueue(t, sqsClient(t), res.CreateQueueURL, 3*time.Second); len(left) != 0 {
		t.Fatalf("finished message came back: %q", left)
	}
}

func sqsClient(t *testing.T) *sqs.Client { return sqs.NewFromConfig(testkit.AWSConfig(t)) }
