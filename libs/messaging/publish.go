package messaging

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/ThreeDotsLabs/watermill-aws/sns"
	"github.com/ThreeDotsLabs/watermill-aws/sqs"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/aws/aws-sdk-go-v2/aws"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
)

// The publishers here are Watermill publishers (message.Publisher, the
// wire format of watermill-aws, read by its subscriber) whose AWS calls run
// with each message's context (msg.Context(), set by Publish): watermill-aws's
// own publishers call AWS with context.Background(), so a caller's deadline
// or cancellation would not reach the call.

// Publish sends msgs to topic through pub with the caller's context.
func Publish(ctx context.Context, pub message.Publisher, topic string, msgs ...*message.Message) error {
	for _, m := range msgs {
		m.SetContext(ctx)
	}
	return pub.Publish(topic, msgs...)
}

// SQSAPIPublish is the SQS subset the publisher needs.
type SQSAPIPublish interface {
	GetQueueUrl(ctx context.Context, in *awssqs.GetQueueUrlInput, opts ...func(*awssqs.Options)) (*awssqs.GetQueueUrlOutput, error)
	SendMessage(ctx context.Context, in *awssqs.SendMessageInput, opts ...func(*awssqs.Options)) (*awssqs.SendMessageOutput, error)
}

// SQSPublisher publishes to SQS queues named by the Watermill topic, moving
// the FIFO metadata (MetadataGroupID, MetadataDeduplicationID) into the
// SendMessage fields SQS reads. It never creates queues.
type SQSPublisher struct {
	api    SQSAPIPublish
	logger *slog.Logger
	urls   sync.Map // queue name → URL
}

// NewSQSPublisher returns a publisher to the queues of cfg's account.
func NewSQSPublisher(cfg aws.Config, logger *slog.Logger) *SQSPublisher {
	return &SQSPublisher{api: awssqs.NewFromConfig(cfg), logger: logger}
}

// Publish sends each message to the queue named topic with its context.
func (p *SQSPublisher) Publish(topic string, msgs ...*message.Message) error {
	for _, msg := range msgs {
		ctx := msg.Context()
		url, err := p.queueURL(ctx, topic)
		if err != nil {
			return err
		}
		wire, err := sqs.DefaultMarshalerUnmarshaler{}.Marshal(msg)
		if err != nil {
			return fmt.Errorf("encode message for %s: %w", topic, err)
		}
		in, err := fifoSendMessageInput(ctx, sqs.QueueURL(url), wire)
		if err != nil {
			return err
		}
		if _, err := p.api.SendMessage(ctx, in); err != nil {
			return fmt.Errorf("send message to %s: %w", topic, err)
		}
		p.logger.Debug("message sent", "queue", topic, "uuid", msg.UUID)
	}
	return nil
}

func (p *SQSPublisher) queueURL(ctx context.Context, name string) (string, error) {
	if u, ok := p.urls.Load(name); ok {
		return u.(string), nil
	}
	out, err := p.api.GetQueueUrl(ctx, &awssqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("queue %s: %w", name, err)
	}
	p.urls.Store(name, aws.ToString(out.QueueUrl))
	return aws.ToString(out.QueueUrl), nil
}

// Close does nothing: the publisher holds no connection of its own.
func (p *SQSPublisher) Close() error { return nil }

// SNSAPI is the SNS subset the publisher needs.
type SNSAPI interface {
	Publish(ctx context.Context, in *awssns.PublishInput, opts ...func(*awssns.Options)) (*awssns.PublishOutput, error)
}

// SNSPublisher publishes to the SNS topic whose ARN is the Watermill topic.
// It never creates topics.
type SNSPublisher struct {
	api    SNSAPI
	logger *slog.Logger
}

// NewSNSPublisher returns a publisher to the topics of cfg's account.
func NewSNSPublisher(cfg aws.Config, logger *slog.Logger) *SNSPublisher {
	return &SNSPublisher{api: awssns.NewFromConfig(cfg), logger: logger}
}

// Publish sends each message to the topic with its context.
func (p *SNSPublisher) Publish(topicARN string, msgs ...*message.Message) error {
	for _, msg := range msgs {
		in := sns.DefaultMarshalerUnmarshaler{}.Marshal(sns.TopicArn(topicARN), msg)
		if _, err := p.api.Publish(msg.Context(), in); err != nil {
			return fmt.Errorf("publish to %s: %w", topicARN, err)
		}
		p.logger.Debug("message published", "topic", topicARN, "uuid", msg.UUID)
	}
	return nil
}

// Close does nothing: the publisher holds no connection of its own.
func (p *SNSPublisher) Close() error { return nil }
