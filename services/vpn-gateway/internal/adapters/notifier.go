package adapters

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/simbridge/simbridge/libs/events"
)

// SNS is the API subset used here.
type SNS interface {
	Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// Notifier sends the gateway's success and failure notifications in the
// reference's JSON shape ({"ip","timestamp","message"}) to the topics the
// other services use. An empty topic ARN disables that kind.
type Notifier struct {
	client          SNS
	successTopicARN string
	failureTopicARN string
	now             func() time.Time
}

// NewNotifier returns a notifier for the two topics.
func NewNotifier(client SNS, successTopicARN, failureTopicARN string) *Notifier {
	return &Notifier{client: client, successTopicARN: successTopicARN, failureTopicARN: failureTopicARN, now: time.Now}
}

// Success announces that the gateway serves devices at ip.
func (n *Notifier) Success(ctx context.Context, ip, msg string) error {
	return n.publish(ctx, n.successTopicARN, ip, msg)
}

// Failure announces a tunnel or publication failure that needs an operator
// if it persists.
func (n *Notifier) Failure(ctx context.Context, ip, msg string) error {
	return n.publish(ctx, n.failureTopicARN, ip, msg)
}

func (n *Notifier) publish(ctx context.Context, topicARN, ip, msg string) error {
	if topicARN == "" {
		return nil
	}
	body, err := events.NewNotification(n.now(), "", ip, msg).Encode()
	if err != nil {
		return fmt.Errorf("encode notification: %w", err)
	}
	if _, err := n.client.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(topicARN), Message: aws.String(string(body))}); err != nil {
		return fmt.Errorf("publish notification to %s: %w", topicARN, err)
	}
	return nil
}
