package adapters_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/messaging"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/services/vpn-gateway/internal/adapters"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

func TestEndpointParameterOverwrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client := ssm.NewFromConfig(testkit.AWSConfig(t))
	p := adapters.NewEndpointParameter(client, testkit.Name(t))
	for _, endpoint := range []string{"10.64.0.2:8080/device-api/onboarding", "10.64.0.9:8080/device-api/onboarding"} {
		if err := p.Publish(ctx, endpoint); err != nil {
			t.Fatal(err)
		}
		got, err := client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(p.Name())})
		if err != nil || aws.ToString(got.Parameter.Value) != endpoint {
			t.Fatalf("parameter %v (%v), want %s", got, err, endpoint)
		}
	}
}

// TestNotificationsHaveTheReferenceShape sends the gateway's notifications
// through libs/messaging's notifier, as the service does, and reads them
// from a real SNS to SQS subscription: the body is the reference's JSON,
// {"ip","timestamp","message"}, without an iccid (the gateway has none) and
// without an ip when there is none to tell.
func TestNotificationsHaveTheReferenceShape(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testkit.AWSConfig(t)
	topics, q := sns.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	name := testkit.Name(t)
	var arns []string
	queue, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	attrs, _ := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: queue.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	for _, kind := range []string{"success", "failure"} {
		topic, err := topics.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name + "-" + kind)})
		if err != nil {
			t.Fatal(err)
		}
		arns = append(arns, aws.ToString(topic.TopicArn))
		if _, err := topics.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"),
			Endpoint: aws.String(attrs.Attributes["QueueArn"]), Attributes: map[string]string{"RawMessageDelivery": "true"}}); err != nil {
			t.Fatal(err)
		}
	}
	pub := messaging.NewSNSPublisher(cfg, slog.New(slog.DiscardHandler))
	n := messaging.NewNotifier(pub, arns[0], arns[1])
	if err := n.Success(ctx, "", "10.64.0.2", "up"); err != nil {
		t.Fatal(err)
	}
	if err := n.Failure(ctx, "", "", "down"); err != nil {
		t.Fatal(err)
	}
	if err := messaging.NewNotifier(pub, "", "").Failure(ctx, "", "", "nowhere"); err != nil {
		t.Fatalf("disabled topic: %v", err)
	}
	out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: queue.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
	if err != nil || len(out.Messages) != 2 {
		t.Fatalf("got %d messages (%v), want 2", len(out.Messages), err)
	}
	wantKeys := map[string][]string{"up": {"ip", "message", "timestamp"}, "down": {"message", "timestamp"}}
	for _, m := range out.Messages {
		var raw map[string]any
		var note events.Notification
		_ = json.Unmarshal([]byte(aws.ToString(m.Body)), &raw)
		_ = json.Unmarshal([]byte(aws.ToString(m.Body)), &note)
		want, known := wantKeys[note.Message]
		if !known || !slices.Equal(slices.Sorted(maps.Keys(raw)), want) || time.Since(time.UnixMilli(note.Timestamp)) > time.Minute {
			t.Errorf("notification %s: want the fields %v and a current timestamp", aws.ToString(m.Body), want)
		}
		if note.Message == "up" && note.IP != "10.64.0.2" {
			t.Errorf("success without the gateway's IP: %s", aws.ToString(m.Body))
		}
	}
}
