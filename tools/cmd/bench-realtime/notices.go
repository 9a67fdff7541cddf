package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/tools/devstack"
)

// notices tells each waiting device when the success notification of its
// SIM arrived (provisioner and deactivator send it right after writing the
// record), so devices ask for their credentials often only then: 100
// devices asking every second would load the emulator's DynamoDB more than
// the system under test does, and measure the emulator.
type notices struct {
	mu       sync.Mutex
	waiters  map[string]chan struct{}
	received int
	lastErr  error
}

// stats says how many notifications arrived, and the last receive error.
func (n *notices) stats() (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.received, n.lastErr
}

// watch subscribes a queue in the emulator to the success topic and
// signals waiters until ctx ends.
func watch(ctx context.Context, stack *devstack.Stack) (*notices, error) {
	cfg, err := testkit.LoadAWSConfig(ctx, stack.AWSEndpoint())
	if err != nil {
		return nil, err
	}
	q := sqs.NewFromConfig(cfg)
	created, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(stack.Opts.Prefix + "-bench-notices")})
	if err != nil {
		return nil, fmt.Errorf("notice queue: %w", err)
	}
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: created.QueueUrl,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		return nil, err
	}
	_, err = sns.NewFromConfig(cfg).Subscribe(ctx, &sns.SubscribeInput{
		TopicArn: aws.String(stack.Resources.SuccessTopicARN), Protocol: aws.String("sqs"),
		Endpoint:   aws.String(attrs.Attributes[string(types.QueueAttributeNameQueueArn)]),
		Attributes: map[string]string{"RawMessageDelivery": "true"},
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe to the success topic: %w", err)
	}
	n := &notices{waiters: map[string]chan struct{}{}}
	go n.receive(ctx, q, created.QueueUrl)
	return n, nil
}

// wait returns the channel signalled when iccid's notification arrives.
func (n *notices) wait(iccid string) <-chan struct{} { return n.channel(iccid) }

func (n *notices) channel(iccid string) chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	ch, ok := n.waiters[iccid]
	if !ok {
		ch = make(chan struct{}, 1)
		n.waiters[iccid] = ch
	}
	return ch
}

func (n *notices) receive(ctx context.Context, q *sqs.Client, url *string) {
	for ctx.Err() == nil {
		// Messages are not deleted (that would delay the next ones on a busy
		// emulator); they stay hidden for the rest of the run.
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 3600})
		if err != nil {
			n.mu.Lock()
			n.lastErr = err
			n.mu.Unlock()
			time.Sleep(100 * time.Millisecond)
			continue
		}
		n.mu.Lock()
		n.received += len(out.Messages)
		n.mu.Unlock()
		for _, m := range out.Messages {
			var note events.Notification
			if json.Unmarshal([]byte(aws.ToString(m.Body)), &note) == nil && note.ICCID != "" {
				select {
				case n.channel(note.ICCID) <- struct{}{}:
				default:
				}
			}
		}
	}
}
