package messaging_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/messaging"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

func command(iccid string, version int64) events.SimCommand {
	return events.SimCommand{Kind: events.KindCreate, ICCID: iccid, IP: "10.0.0.1", Status: "Enabled", BaseVersion: version, ObservedAt: time.Now()}
}

func TestFIFOPublishSetsGroupAndDeduplicates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testkit.AWSConfig(t)
	res, err := bootstrap.Ensure(ctx, cfg, bootstrap.Names{Prefix: testkit.Name(t)}, bootstrap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pub := messaging.NewSQSPublisher(cfg, slog.New(slog.DiscardHandler))
	for _, c := range []events.SimCommand{command("8988280666000000001", 0), command("8988280666000000001", 0), command("8988280666000000001", 1)} {
		msg, err := messaging.NewCommandMessage(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := pub.Publish(res.CreateQueue(), msg); err != nil {
			t.Fatal(err)
		}
	}
	q := sqs.NewFromConfig(cfg)
	out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(res.CreateQueueURL), MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"},
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 2 {
		t.Fatalf("want 2 messages (identical re-send deduplicated, later version kept), got %d", len(out.Messages))
	}
	m := out.Messages[0]
	if m.Attributes["MessageGroupId"] != "8988280666000000001" {
		t.Errorf("group id = %q", m.Attributes["MessageGroupId"])
	}
	if _, leaked := m.MessageAttributes[messaging.MetadataGroupID]; leaked {
		t.Error("FIFO metadata must not also travel as a message attribute")
	}
	if _, err := events.DecodeSimCommand([]byte(*m.Body)); err != nil {
		t.Errorf("body is not a command: %v", err)
	}
}

func TestSubscriberReceivesCommand(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := testkit.AWSConfig(t)
	res, err := bootstrap.Ensure(ctx, cfg, bootstrap.Names{Prefix: testkit.Name(t)}, bootstrap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	logger := messaging.Logger(slog.New(slog.DiscardHandler))
	pub := messaging.NewSQSPublisher(cfg, slog.New(slog.DiscardHandler))
	msg, _ := messaging.NewCommandMessage(command("8988280666000000002", 0))
	if err := pub.Publish(res.CreateQueue(), msg); err != nil {
		t.Fatal(err)
	}
	sub, err := messaging.NewSQSSubscriber(cfg, logger, messaging.SubscriberOptions{WaitTimeSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ch, err := sub.Subscribe(ctx, res.CreateQueue())
	if err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-ch:
		got.Ack()
		c, err := events.DecodeSimCommand(got.Payload)
		if err != nil || c.ICCID != "8988280666000000002" {
			t.Fatalf("received %+v, %v", c, err)
		}
	case <-ctx.Done():
		t.Fatal("no message received")
	}
	if _, err := sub.Subscribe(ctx, testkit.Name(t)+".fifo"); err == nil {
		t.Error("subscribing to a missing queue must fail, not create a queue without DLQ")
	}
}

func TestNotifierPublishesReferenceJSON(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testkit.AWSConfig(t)
	res, err := bootstrap.Ensure(ctx, cfg, bootstrap.Names{Prefix: testkit.Name(t)}, bootstrap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	q := sqs.NewFromConfig(cfg)
	inbox, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(testkit.Name(t))})
	if err != nil {
		t.Fatal(err)
	}
	arn, _ := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: inbox.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{"QueueArn"}})
	_, err = sns.NewFromConfig(cfg).Subscribe(ctx, &sns.SubscribeInput{
		TopicArn: aws.String(res.SuccessTopicARN), Protocol: aws.String("sqs"), Endpoint: aws.String(arn.Attributes["QueueArn"]),
		Attributes: map[string]string{"RawMessageDelivery": "true"},
	})
	if err != nil {
		t.Fatal(err)
	}
	pub := messaging.NewSNSPublisher(cfg, slog.New(slog.DiscardHandler))
	n := messaging.NewNotifier(pub, res.SuccessTopicARN, res.FailureTopicARN)
	if err := n.Success(ctx, "8988280666000000003", "10.0.0.3", events.MessageEnabled); err != nil {
		t.Fatal(err)
	}
	out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: inbox.QueueUrl, WaitTimeSeconds: 2})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("notification not delivered: %v", err)
	}
	var got events.Notification
	if err := json.Unmarshal([]byte(*out.Messages[0].Body), &got); err != nil {
		t.Fatal(err)
	}
	if got.ICCID != "8988280666000000003" || got.IP != "10.0.0.3" || got.Message != "SIM enabled" || time.Since(time.UnixMilli(got.Timestamp)) > time.Minute {
		t.Fatalf("notification = %+v", got)
	}
}

// A caller's context reaches the AWS call: a publish whose context has
// ended sends nothing and says why, for queues and for notifications.
func TestPublishRunsWithTheCallersContext(t *testing.T) {
	t.Parallel()
	cfg := testkit.AWSConfig(t)
	res, err := bootstrap.Ensure(context.Background(), cfg, bootstrap.Names{Prefix: testkit.Name(t)}, bootstrap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	msg, _ := messaging.NewCommandMessage(command("8988280666000000009", 0))
	err = messaging.Publish(ended, messaging.NewSQSPublisher(cfg, slog.New(slog.DiscardHandler)), res.CreateQueue(), msg)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("publish with an ended context: %v, want context.Canceled", err)
	}
	n := messaging.NewNotifier(messaging.NewSNSPublisher(cfg, slog.New(slog.DiscardHandler)), res.SuccessTopicARN, res.FailureTopicARN)
	if err := n.Failure(ended, "8988280666000000009", "10.0.0.9", "x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("notification with an ended context: %v, want context.Canceled", err)
	}
	out, err := sqs.NewFromConfig(cfg).ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(res.CreateQueueURL)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 0 {
		t.Fatalf("%d messages sent with an ended context", len(out.Messages))
	}
}
