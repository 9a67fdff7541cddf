package sqsstub_test

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

// TestErrors checks that the SDK turns the stub's errors into the same
// typed errors and codes as SQS's, since callers branch on them
// (bootstrap creates a queue on *types.QueueDoesNotExist).
func TestErrors(t *testing.T) {
	t.Parallel()
	s := startStub(t)
	url, _ := s.fifoPair("errors", 5)
	missing := "http://127.0.0.1:1/123456789012/missing.fifo"
	cases := []struct {
		name  string
		call  func() error
		typed func(error) bool
		code  string
	}{
		{"GetQueueUrl of a missing queue", func() error {
			_, err := s.sqs.GetQueueUrl(s.ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("missing")})
			return err
		}, as[*types.QueueDoesNotExist], "AWS.SimpleQueueService.NonExistentQueue"},
		{"SendMessage to a missing queue", func() error {
			_, err := s.sqs.SendMessage(s.ctx, &sqs.SendMessageInput{QueueUrl: aws.String(missing), MessageBody: aws.String("x")})
			return err
		}, as[*types.QueueDoesNotExist], "AWS.SimpleQueueService.NonExistentQueue"},
		{"FIFO send without group", func() error {
			_, err := s.sqs.SendMessage(s.ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x")})
			return err
		}, nil, "MissingParameter"},
		{"FIFO send without deduplication", func() error {
			_, err := s.sqs.SendMessage(s.ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x"), MessageGroupId: aws.String("g")})
			return err
		}, nil, "InvalidParameterValue"},
		{"CreateQueue with other attributes", func() error {
			_, err := s.sqs.CreateQueue(s.ctx, &sqs.CreateQueueInput{QueueName: aws.String("errors.fifo"),
				Attributes: map[string]string{"FifoQueue": "true", "VisibilityTimeout": "99"}})
			return err
		}, as[*types.QueueNameExists], "QueueAlreadyExists"},
		{"unknown attribute", func() error {
			_, err := s.sqs.GetQueueAttributes(s.ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{"Nope"}})
			return err
		}, as[*types.InvalidAttributeName], "InvalidAttributeName"},
		{"invalid attribute value", func() error {
			_, err := s.sqs.SetQueueAttributes(s.ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: map[string]string{"VisibilityTimeout": "-1"}})
			return err
		}, as[*types.InvalidAttributeValue], "InvalidAttributeValue"},
		{"redrive to a missing queue", func() error {
			_, err := s.sqs.SetQueueAttributes(s.ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url),
				Attributes: map[string]string{"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:nope.fifo","maxReceiveCount":5}`}})
			return err
		}, nil, "InvalidParameterValue"},
		{"DeleteMessage with a foreign receipt handle", func() error {
			_, err := s.sqs.DeleteMessage(s.ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String("garbage")})
			return err
		}, as[*types.ReceiptHandleIsInvalid], "ReceiptHandleIsInvalid"},
		{"MaxNumberOfMessages above 10", func() error {
			_, err := s.sqs.ReceiveMessage(s.ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 11})
			return err
		}, nil, "InvalidParameterValue"},
	}
	for _, c := range cases {
		err := c.call()
		var api smithy.APIError
		if !errors.As(err, &api) {
			t.Errorf("%s: want an API error, got %v", c.name, err)
			continue
		}
		if api.ErrorCode() != c.code {
			t.Errorf("%s: code %q, want %q", c.name, api.ErrorCode(), c.code)
		}
		if c.typed != nil && !c.typed(err) {
			t.Errorf("%s: %T is not the SDK's typed error", c.name, err)
		}
		if api.ErrorFault() != smithy.FaultClient {
			t.Errorf("%s: fault %v, want client", c.name, api.ErrorFault())
		}
	}
}
