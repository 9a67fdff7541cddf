package messaging_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/messaging"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
)

type noNotes struct{}

func (noNotes) Failure(context.Context, string, string, string) error { return nil }

// note is one failure notification.
type note struct{ iccid, ip, msg string }

// recordingNotes keeps every failure notification, for a test to read.
type recordingNotes struct {
	mu    sync.Mutex
	notes []note
}

func (r *recordingNotes) Failure(_ context.Context, iccid, ip, msg string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, note{iccid, ip, msg})
	return nil
}

// next waits for the notification after the first n.
func (r *recordingNotes) next(t *testing.T, n int, limit time.Duration) note {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		if len(r.notes) > n {
			got := r.notes[n]
			r.mu.Unlock()
			return got
		}
		r.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no failure notification within %v", limit)
	return note{}
}

// runConsumer runs handle on a fresh queue with a 2 s visibility timeout and
// returns the queue's resources and a stop function that reports how
// RunConsumers ended.
func runConsumer(t *testing.T, handle messaging.CommandFunc) (bootstrap.Resources, context.CancelFunc, <-chan error) {
	t.Helper()
	return runConsumerWith(t, noNotes{}, slog.New(slog.DiscardHandler), handle)
}

// runConsumerWith is runConsumer with the notifier and logger given.
func runConsumerWith(t *testing.T, notes messaging.FailureNotifier, logger *slog.Logger, handle messaging.CommandFunc) (bootstrap.Resources, context.CancelFunc, <-chan error) {
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
			AWS: cfg, Notifier: notes, Registry: prometheus.NewRegistry(), Logger: logger,
		}, messaging.CommandHandler(handle))
	}()
	t.Cleanup(cancel)
	return res, cancel, done
}

func publishOne(t *testing.T, res bootstrap.Resources, iccid string) {
	t.Helper()
	pub := messaging.NewSQSPublisher(testkit.AWSConfig(t), slog.New(slog.DiscardHandler))
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

// A command that cannot be acted on still names its SIM: the failure
// notification and the DLQ log line carry the ICCID (and the IP as sent)
// whenever the message had it, in its body, even a damaged one, or as its
// FIFO group id. The command itself is never handled.
func TestInvalidCommandNotificationNamesTheSIM(t *testing.T) {
	t.Parallel()
	notes, logs := &recordingNotes{}, &testkit.LogBuffer{}
	var handled atomic.Int32
	res, _, _ := runConsumerWith(t, notes, slog.New(slog.NewJSONHandler(logs, nil)), func(context.Context, events.SimCommand) error {
		handled.Add(1)
		return nil
	})
	tests := []struct {
		name, group, body, wantICCID, wantIP string
	}{
		{name: "valid ICCID, IP out of range", group: "8988280666000000401",
			body:      `{"kind":"create","iccid":"8988280666000000401","ip":"999.1.2.3","status":"Enabled","base_version":0}`,
			wantICCID: "8988280666000000401", wantIP: "999.1.2.3"},
		{name: "update with a non-canonical IP, group not an ICCID", group: "batch-7",
			body:      `{"kind":"update","iccid":"8988280666000000402","ip":"::ffff:10.0.0.2","base_version":3}`,
			wantICCID: "8988280666000000402", wantIP: "::ffff:10.0.0.2"},
		{name: "body cut short after the ICCID and IP", group: "poison-3",
			body:      `{"iccid":"8988280666000000403","ip":"10.0.0.3","kind":`,
			wantICCID: "8988280666000000403", wantIP: "10.0.0.3"},
		{name: "ICCID sent as a number", group: "g-5",
			body:      `{"kind":"create","iccid":8988280666000000405,"ip":"10.0.0.5"}`,
			wantICCID: "8988280666000000405", wantIP: "10.0.0.5"},
		{name: "body not JSON, group id is the ICCID", group: "8988280666000000404",
			body: `not json`, wantICCID: "8988280666000000404"},
		{name: "invalid ICCID is not passed off as one", group: "g-7",
			body: `{"kind":"create","iccid":"123","ip":"10.0.0.7"}`, wantIP: "10.0.0.7"},
		{name: "nothing names a SIM", group: "poison", body: `{"kind":"create","iccid":`},
	}
	q := sqsClient(t)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := q.SendMessage(context.Background(), &sqs.SendMessageInput{
				QueueUrl: aws.String(res.CreateQueueURL), MessageBody: aws.String(tc.body),
				MessageGroupId: aws.String(tc.group), MessageDeduplicationId: aws.String(fmt.Sprintf("invalid-%d", i)),
			})
			if err != nil {
				t.Fatal(err)
			}
			got := notes.next(t, i, 30*time.Second)
			if got.iccid != tc.wantICCID || got.ip != tc.wantIP {
				t.Fatalf("notification names iccid %q ip %q, want %q %q (%s)", got.iccid, got.ip, tc.wantICCID, tc.wantIP, got.msg)
			}
			if tc.wantICCID != "" && !strings.Contains(got.msg, tc.wantICCID) {
				t.Errorf("notification text does not name the SIM: %s", got.msg)
			}
			if tc.wantICCID != "" && !dlqLogNames(logs.String(), tc.wantICCID) {
				t.Errorf("no DLQ log line names %s:\n%s", tc.wantICCID, logs.String())
			}
		})
	}
	if n := handled.Load(); n != 0 {
		t.Fatalf("an invalid command was handled %d times; it must never be acted on", n)
	}
	if dead := testkit.DrainQueue(t, q, res.CreateDLQURL, 2*time.Second); len(dead) != len(tests) {
		t.Fatalf("DLQ holds %d messages, want %d", len(dead), len(tests))
	}
}

func dlqLogNames(logs, iccid string) bool {
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `"msg":"message moved to DLQ"`) && strings.Contains(line, `"iccid":"`+iccid+`"`) {
			return true
		}
	}
	return false
}

// TestRedrivenMessageKeepsItsRedriveMarks: a message an operator redrove
// (simbridge writes events.AttrRedrives and AttrRedriveRun) that fails
// again goes back to the DLQ once, with one notification, and carries the
// marks, so the redrive that moved it sees it came back and does not move
// it a second time.
func TestRedrivenMessageKeepsItsRedriveMarks(t *testing.T) {
	t.Parallel()
	notes := &recordingNotes{}
	res, _, _ := runConsumerWith(t, notes, slog.New(slog.DiscardHandler), func(context.Context, events.SimCommand) error { return nil })
	q := sqsClient(t)
	_, err := q.SendMessage(context.Background(), &sqs.SendMessageInput{
		QueueUrl: aws.String(res.CreateQueueURL), MessageBody: aws.String(`{"kind":"explode","iccid":"8988280666000000501"}`),
		MessageGroupId: aws.String("8988280666000000501"), MessageDeduplicationId: aws.String("redriven-1"),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			events.AttrRedrives:   {DataType: aws.String("Number"), StringValue: aws.String("1")},
			events.AttrRedriveRun: {DataType: aws.String("String"), StringValue: aws.String("op-run-1")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	notes.next(t, 0, 30*time.Second)
	var got *sqs.ReceiveMessageOutput
	testkit.Eventually(t, 10*time.Second, "the message back in the DLQ", func() error {
		got, err = q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(res.CreateDLQURL),
			MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}})
		if err == nil && len(got.Messages) == 0 {
			err = fmt.Errorf("DLQ empty")
		}
		return err
	})
	attrs := got.Messages[0].MessageAttributes
	if len(got.Messages) != 1 || aws.ToString(attrs[events.AttrRedrives].StringValue) != "1" ||
		aws.ToString(attrs[events.AttrRedriveRun].StringValue) != "op-run-1" ||
		!strings.HasPrefix(aws.ToString(attrs[events.AttrDeadLetterReason].StringValue), events.DeadLetterMalformed) {
		t.Fatalf("DLQ copy: %d messages, attributes %v", len(got.Messages), attrs)
	}
	notes.mu.Lock()
	defer notes.mu.Unlock()
	if len(notes.notes) != 1 {
		t.Fatalf("%d notifications for one failure: %v", len(notes.notes), notes.notes)
	}
}
