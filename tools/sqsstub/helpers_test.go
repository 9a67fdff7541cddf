package sqsstub_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/tools/sqsstub"
)

// stub is a running server and a real SDK client pointed at it.
type stub struct {
	t        *testing.T
	ctx      context.Context
	endpoint string
	cfg      aws.Config
	sqs      *sqs.Client
}

func startStub(t *testing.T) *stub {
	t.Helper()
	endpoint, stop, err := sqsstub.Start("127.0.0.1:0", sqsstub.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	cfg, err := testkit.LoadAWSConfig(ctx, endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return &stub{t: t, ctx: ctx, endpoint: endpoint, cfg: cfg, sqs: sqs.NewFromConfig(cfg)}
}

// queue creates a queue with attrs and returns its URL.
func (s *stub) queue(name string, attrs map[string]string) string {
	s.t.Helper()
	out, err := s.sqs.CreateQueue(s.ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		s.t.Fatalf("create %s: %v", name, err)
	}
	return *out.QueueUrl
}

// fifoPair creates name.fifo with a dead-letter queue after maxReceives.
func (s *stub) fifoPair(name string, maxReceives int) (url, dlqURL string) {
	s.t.Helper()
	dlqURL = s.queue(name+"-dlq.fifo", map[string]string{"FifoQueue": "true"})
	redrive := fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"%d"}`, s.arn(dlqURL), maxReceives)
	url = s.queue(name+".fifo", map[string]string{"FifoQueue": "true", "VisibilityTimeout": "30", "RedrivePolicy": redrive})
	return url, dlqURL
}

func (s *stub) arn(url string) string {
	return s.attrs(url, types.QueueAttributeNameQueueArn)["QueueArn"]
}

func (s *stub) attrs(url string, names ...types.QueueAttributeName) map[string]string {
	s.t.Helper()
	out, err := s.sqs.GetQueueAttributes(s.ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: names})
	if err != nil {
		s.t.Fatal(err)
	}
	return out.Attributes
}

// send puts body into group with dedup id body (FIFO) and returns the message id.
func (s *stub) send(url, group, body string) string {
	s.t.Helper()
	in := &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)}
	if group != "" {
		in.MessageGroupId, in.MessageDeduplicationId = aws.String(group), aws.String(body)
	}
	out, err := s.sqs.SendMessage(s.ctx, in)
	if err != nil {
		s.t.Fatalf("send %s: %v", body, err)
	}
	return *out.MessageId
}

// receive asks for up to max messages, waiting up to wait seconds.
func (s *stub) receive(url string, max, wait int32) []types.Message {
	s.t.Helper()
	out, err := s.sqs.ReceiveMessage(s.ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(url), MaxNumberOfMessages: max, WaitTimeSeconds: wait,
		MessageAttributeNames:       []string{"All"},
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
	})
	if err != nil {
		s.t.Fatalf("receive: %v", err)
	}
	return out.Messages
}

func (s *stub) delete(url string, m types.Message) {
	s.t.Helper()
	if _, err := s.sqs.DeleteMessage(s.ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
		s.t.Fatalf("delete: %v", err)
	}
}

func (s *stub) setVisibility(url string, m types.Message, seconds int32) error {
	_, err := s.sqs.ChangeMessageVisibility(s.ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: seconds})
	return err
}

func bodies(msgs []types.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, *m.Body)
	}
	return out
}

func receiveCount(m types.Message) int {
	n, _ := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	return n
}

// as reports whether err is (or wraps) an error of type T.
func as[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}
