package opscli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/simbridge/simbridge/libs/events"
)

// failureWatch is a short-lived subscription to the environment's failure
// topic: a refusal ("SIM reissue refused: …") or a dead-lettered command
// writes nothing to the record, so this is how a waiting command learns of
// it. It is a queue <prefix>-ops-<random> subscribed with raw delivery,
// removed again by close.
type failureWatch struct {
	s        *session
	queueURL string
	subARN   string
}

// watchFailures subscribes a fresh queue to the failure topic; nil (and a
// note on stderr) when that is not possible, e.g. without the permission:
// the command then learns its outcome from the record only.
func (s *session) watchFailures(ctx context.Context) *failureWatch {
	w, err := s.subscribeFailures(ctx)
	if err != nil {
		fmt.Fprintf(s.errOut, "note: not watching the failure topic (%v); a refusal shows only as a timeout\n", err)
		if w != nil {
			w.close()
		}
		return nil
	}
	return w
}

func (s *session) subscribeFailures(ctx context.Context) (*failureWatch, error) {
	who, err := s.identity(ctx)
	if err != nil {
		return nil, err
	}
	id, err := arn.Parse(who)
	if err != nil {
		return nil, fmt.Errorf("caller ARN %q: %w", who, err)
	}
	topic := fmt.Sprintf("arn:%s:sns:%s:%s:%s", id.Partition, s.cfg.Region, id.AccountID, s.names.FailureTopic())
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := s.names.Prefix + "-ops-" + hex.EncodeToString(b)
	queueARN := fmt.Sprintf("arn:%s:sqs:%s:%s:%s", id.Partition, s.cfg.Region, id.AccountID, name)
	policy, _ := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{{
			"Effect": "Allow", "Principal": map[string]string{"Service": "sns.amazonaws.com"},
			"Action": "sqs:SendMessage", "Resource": queueARN,
			"Condition": map[string]any{"ArnEquals": map[string]string{"aws:SourceArn": topic}},
		}},
	})
	q, err := s.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name),
		Attributes: map[string]string{"Policy": string(policy), "MessageRetentionPeriod": "900"}})
	if err != nil {
		return nil, fmt.Errorf("create queue %s: %w", name, err)
	}
	w := &failureWatch{s: s, queueURL: aws.ToString(q.QueueUrl)}
	sub, err := s.sns.Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("sqs"),
		Endpoint: aws.String(queueARN), Attributes: map[string]string{"RawMessageDelivery": "true"}, ReturnSubscriptionArn: true})
	if err != nil {
		return w, fmt.Errorf("subscribe to %s: %w", topic, err)
	}
	w.subARN = aws.ToString(sub.SubscriptionArn)
	return w, nil
}

// next waits up to a second for a failure notification about iccid.
func (w *failureWatch) next(ctx context.Context, iccid string) (string, error) {
	out, err := w.s.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(w.queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
	if err != nil {
		return "", fmt.Errorf("read failure notifications: %w", err)
	}
	found := ""
	for _, m := range out.Messages {
		_, _ = w.s.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(w.queueURL), ReceiptHandle: m.ReceiptHandle})
		if n, ok := decodeNotification(aws.ToString(m.Body)); ok && n.ICCID == iccid && found == "" {
			found = n.Message
		}
	}
	return found, nil
}

// decodeNotification reads a raw notification or one in SNS's envelope.
func decodeNotification(body string) (events.Notification, bool) {
	var n events.Notification
	if json.Unmarshal([]byte(body), &n) == nil && n.Message != "" && !strings.HasPrefix(strings.TrimSpace(n.Message), "{") {
		return n, true
	}
	var env struct{ Message string }
	if json.Unmarshal([]byte(body), &env) == nil && env.Message != "" && json.Unmarshal([]byte(env.Message), &n) == nil {
		return n, true
	}
	return n, false
}

func (w *failureWatch) close() {
	if w == nil {
		return
	}
	ctx := context.Background()
	if w.subARN != "" {
		_, _ = w.s.sns.Unsubscribe(ctx, &sns.UnsubscribeInput{SubscriptionArn: aws.String(w.subARN)})
	}
	if w.queueURL != "" {
		_, _ = w.s.sqs.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(w.queueURL)})
	}
}
