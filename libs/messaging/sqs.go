// Package messaging wires Watermill to SQS FIFO queues and SNS topics the way
// every service uses them: FIFO group id = ICCID (order per SIM, parallel
// across SIMs), a deduplication id per change, queues and topics created by
// the bootstrap (never implicitly by a consumer, so DLQs are never missing).
//
// One design for every consumer: watermill-aws's subscriber receives, a
// Watermill router runs the handlers, and the queue's failure policy
// (retries with backoff, visibility, requeue, DLQ, failure notifications) is
// Watermill middleware (Consumer.Middleware) that hands the handler a
// context carrying the logger and surviving shutdown. The SQS calls the
// policy needs beyond receive and ack (ChangeMessageVisibility, SendMessage
// to the DLQ or back to the queue) have no Watermill API and are made there
// with the SDK. Publishing goes through Watermill's message.Publisher
// interface with each message's context (Publish).
package messaging

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-aws/sqs"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/simbridge/simbridge/libs/events"
)

// Metadata keys carrying the FIFO fields; they become SendMessage parameters,
// not message attributes.
const (
	MetadataGroupID         = "MessageGroupId"
	MetadataDeduplicationID = "MessageDeduplicationId"
)

// fifoSendMessageInput moves the FIFO metadata from message attributes into
// the SendMessage fields SQS reads them from.
func fifoSendMessageInput(_ context.Context, queueURL sqs.QueueURL, msg *types.Message) (*awssqs.SendMessageInput, error) {
	in := &awssqs.SendMessageInput{
		QueueUrl:          aws.String(string(queueURL)),
		MessageBody:       msg.Body,
		MessageAttributes: msg.MessageAttributes,
	}
	if v, ok := msg.MessageAttributes[MetadataGroupID]; ok {
		in.MessageGroupId = v.StringValue
		delete(in.MessageAttributes, MetadataGroupID)
	}
	if v, ok := msg.MessageAttributes[MetadataDeduplicationID]; ok {
		in.MessageDeduplicationId = v.StringValue
		delete(in.MessageAttributes, MetadataDeduplicationID)
	}
	return in, nil
}

// SubscriberOptions tune how a consumer receives.
type SubscriberOptions struct {
	// WaitTimeSeconds is the long-poll duration (1-20; default 20). A
	// receive under way when the subscriber stops is awaited, so this
	// bounds how long stopping takes (ShutdownSplit chooses it).
	WaitTimeSeconds int32
}

// NewSQSSubscriber returns a subscriber for queues named by the Watermill
// topic. It never creates queues: a missing queue is a deployment error.
// A receive under way when it stops completes (see handback.go).
func NewSQSSubscriber(cfg aws.Config, logger watermill.LoggerAdapter, opts SubscriberOptions) (*sqs.Subscriber, error) {
	wait := opts.WaitTimeSeconds
	if wait <= 0 || wait > 20 {
		wait = 20
	}
	sub, err := sqs.NewSubscriber(sqs.SubscriberConfig{
		AWSConfig:                   cfg,
		OptFns:                      []func(*awssqs.Options){func(o *awssqs.Options) { o.APIOptions = append(o.APIOptions, finishReceives) }},
		DoNotCreateQueueIfNotExists: true,
		Unmarshaler:                 receiptUnmarshaler{},
		GenerateReceiveMessageInput: func(_ context.Context, queueURL sqs.QueueURL) (*awssqs.ReceiveMessageInput, error) {
			return &awssqs.ReceiveMessageInput{
				QueueUrl:              aws.String(string(queueURL)),
				MessageAttributeNames: []string{"All"},
				MessageSystemAttributeNames: []types.MessageSystemAttributeName{
					types.MessageSystemAttributeNameApproximateReceiveCount, types.MessageSystemAttributeNameMessageGroupId,
					types.MessageSystemAttributeNameSentTimestamp,
				},
				WaitTimeSeconds:     wait,
				MaxNumberOfMessages: 1,
			}, nil
		},
	}, logger)
	if err != nil {
		return nil, fmt.Errorf("sqs subscriber: %w", err)
	}
	return sub, nil
}

// NewCommandMessage wraps a SIM command in a message for its FIFO queue:
// grouped by ICCID and deduplicated per change.
func NewCommandMessage(cmd events.SimCommand) (*message.Message, error) {
	body, err := cmd.Encode()
	if err != nil {
		return nil, err
	}
	msg := message.NewMessage(watermill.NewUUID(), body)
	msg.Metadata.Set(MetadataGroupID, cmd.ICCID)
	msg.Metadata.Set(MetadataDeduplicationID, cmd.DeduplicationID())
	return msg, nil
}

// Metadata the subscriber adds to every received message, so handlers can
// change its visibility, know how often it was received and dead-letter it.
const (
	MetaReceiptHandle = "sqs_receipt_handle"
	MetaReceiveCount  = "sqs_receive_count"
	MetaGroupID       = "sqs_group_id"
	MetaMessageID     = "sqs_message_id"
	// MetaSentTimestamp is when SQS accepted the message (Unix ms).
	MetaSentTimestamp = "sqs_sent_timestamp"
)

type receiptUnmarshaler struct {
	sqs.DefaultMarshalerUnmarshaler
}

func (u receiptUnmarshaler) Unmarshal(m *types.Message) (*message.Message, error) {
	msg, err := u.DefaultMarshalerUnmarshaler.Unmarshal(m)
	if err != nil {
		return nil, err
	}
	msg.Metadata.Set(MetaReceiptHandle, aws.ToString(m.ReceiptHandle))
	msg.Metadata.Set(MetaMessageID, aws.ToString(m.MessageId))
	msg.Metadata.Set(MetaReceiveCount, m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	msg.Metadata.Set(MetaGroupID, m.Attributes[string(types.MessageSystemAttributeNameMessageGroupId)])
	msg.Metadata.Set(MetaSentTimestamp, m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)])
	return msg, nil
}

// FullSyncGroup is the message group of every full-sync request
// (events.SyncRequest.GroupID says which group a request goes to).
const FullSyncGroup = events.FullSyncGroup

// NewSyncRequestMessage wraps a sync request for sim-poller's FIFO queue,
// grouped as FullSyncGroup says and deduplicated by the request id (a
// re-sent request is dropped within SQS's 5-minute window).
func NewSyncRequestMessage(req events.SyncRequest) (*message.Message, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode sync request: %w", err)
	}
	msg := message.NewMessage(watermill.NewUUID(), body)
	msg.Metadata.Set(MetadataGroupID, req.GroupID())
	msg.Metadata.Set(MetadataDeduplicationID, req.ID)
	return msg, nil
}

// SentAt is when SQS accepted msg (zero when unknown).
func SentAt(msg *message.Message) time.Time {
	ms, err := strconv.ParseInt(msg.Metadata.Get(MetaSentTimestamp), 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
