package testkit

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Inbox is an SQS queue subscribed to an SNS topic (raw delivery), so a test
// can read the notifications a service published.
type Inbox struct {
	sqs *sqs.Client
	url string
}

// SubscribeInbox subscribes a new queue to topicARN.
func SubscribeInbox(t testing.TB, cfg aws.Config, topicARN string) *Inbox {
	t.Helper()
	ctx := context.Background()
	q := sqs.NewFromConfig(cfg)
	created, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(Name(t))})
	if err != nil {
		t.Fatalf("create inbox: %v", err)
	}
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: created.QueueUrl, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = sns.NewFromConfig(cfg).Subscribe(ctx, &sns.SubscribeInput{
		TopicArn: aws.String(topicARN), Protocol: aws.String("sqs"),
		Endpoint:   aws.String(attrs.Attributes[string(types.QueueAttributeNameQueueArn)]),
		Attributes: map[string]string{"RawMessageDelivery": "true"},
	})
	if err != nil {
		t.Fatalf("subscribe inbox: %v", err)
	}
	return &Inbox{sqs: q, url: *created.QueueUrl}
}

// Drain returns every message body received within wait.
func (in *Inbox) Drain(t testing.TB, wait time.Duration) []string {
	t.Helper()
	return DrainQueue(t, in.sqs, in.url, wait)
}

// DrainQueue receives and deletes messages from a queue until it stays empty for wait.
func DrainQueue(t testing.TB, q *sqs.Client, url string, wait time.Duration) []string {
	t.Helper()
	var bodies []string
	for {
		out, err := q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: int32(wait.Seconds()),
		})
		if err != nil {
			t.Fatalf("receive from %s: %v", url, err)
		}
		if len(out.Messages) == 0 {
			return bodies
		}
		for _, m := range out.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
			_, _ = q.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle})
		}
	}
}
