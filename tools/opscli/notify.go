package opscli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/simbridge/simbridge/libs/events"
)

// failureWatch is a short-lived subscription to the environment's failure
// topic: a refusal ("SIM reissue refused: …") or a dead-lettered command
// writes nothing to the record, so this is how a waiting command learns of
// it. It is a queue <prefix>-ops-<expiry>-<random> subscribed with raw
// delivery, removed again by close on every way out of the command
// (success, error, Ctrl-C, deadline). A run killed outright leaves it
// behind: its name says when it expired (the command's deadline, Unix
// seconds), and the next watch removes expired ones with their
// subscriptions.
type failureWatch struct {
	s        *session
	queueURL string
	subARN   string
	mu       sync.Mutex
	// pending keeps notifications received for SIMs other than the one
	// being waited for (several commands share one watch).
	pending map[string][]string
}

// watchPrefix starts the names of the watches' queues.
func (s *session) watchPrefix() string { return s.names.Prefix + "-ops-" }

// watchGrace is added to the command's deadline in a watch's expiry.
const watchGrace = 5 * time.Minute

// watchFailures subscribes a fresh queue to the failure topic; nil (and a
// note on stderr) when that is not possible, e.g. without the permission:
// the command then learns its outcome from the record only.
func (s *session) watchFailures(ctx context.Context) *failureWatch {
	s.removeStaleWatches(ctx)
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
	id, err := s.account(ctx)
	if err != nil {
		return nil, err
	}
	topic, err := s.topicARN(ctx, s.names.FailureTopic())
	if err != nil {
		return nil, err
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	expiry := s.now().Add(s.opts.deadline + watchGrace).Unix()
	name := s.watchPrefix() + strconv.FormatInt(expiry, 10) + "-" + hex.EncodeToString(b)
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
	w := &failureWatch{s: s, queueURL: aws.ToString(q.QueueUrl), pending: map[string][]string{}}
	sub, err := s.sns.Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("sqs"),
		Endpoint: aws.String(queueARN), Attributes: map[string]string{"RawMessageDelivery": "true"}, ReturnSubscriptionArn: true})
	if err != nil {
		return w, fmt.Errorf("subscribe to %s: %w", topic, err)
	}
	w.subARN = aws.ToString(sub.SubscriptionArn)
	return w, nil
}

// removeStaleWatches deletes the watch queues (and their subscriptions)
// whose expiry passed: left by a run that was killed. Best effort: a
// failure here is no reason to stop the command.
func (s *session) removeStaleWatches(ctx context.Context) {
	out, err := s.sqs.ListQueues(ctx, &sqs.ListQueuesInput{QueueNamePrefix: aws.String(s.watchPrefix()), MaxResults: aws.Int32(1000)})
	if err != nil {
		return
	}
	var stale []string
	for _, url := range out.QueueUrls {
		name := url[strings.LastIndex(url, "/")+1:]
		expiry, _, _ := strings.Cut(strings.TrimPrefix(name, s.watchPrefix()), "-")
		if sec, err := strconv.ParseInt(expiry, 10, 64); err == nil && s.now().Unix() > sec {
			stale = append(stale, url)
		}
	}
	if len(stale) == 0 {
		return
	}
	s.unsubscribeQueues(ctx, stale)
	for _, url := range stale {
		if _, err := s.sqs.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(url)}); err == nil {
			fmt.Fprintf(s.errOut, "note: removed %s, left behind by an earlier simbridge run\n", url[strings.LastIndex(url, "/")+1:])
		}
	}
}

// unsubscribeQueues removes the failure topic's subscriptions of the
// queues at urls.
func (s *session) unsubscribeQueues(ctx context.Context, urls []string) {
	topic, err := s.topicARN(ctx, s.names.FailureTopic())
	if err != nil {
		return
	}
	names := map[string]bool{}
	for _, u := range urls {
		names[u[strings.LastIndex(u, "/")+1:]] = true
	}
	p := sns.NewListSubscriptionsByTopicPaginator(s.sns, &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(topic)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return
		}
		for _, sub := range page.Subscriptions {
			ep := aws.ToString(sub.Endpoint)
			if names[ep[strings.LastIndex(ep, ":")+1:]] {
				_, _ = s.sns.Unsubscribe(ctx, &sns.UnsubscribeInput{SubscriptionArn: sub.SubscriptionArn})
			}
		}
	}
}

// next waits up to a second for a failure notification about iccid;
// notifications about other SIMs are kept for their waiters.
func (w *failureWatch) next(ctx context.Context, iccid string) (string, error) {
	if msg := w.take(iccid); msg != "" {
		return msg, nil
	}
	out, err := w.s.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(w.queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
	if err != nil {
		return "", fmt.Errorf("read failure notifications: %w", err)
	}
	for _, m := range out.Messages {
		_, _ = w.s.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(w.queueURL), ReceiptHandle: m.ReceiptHandle})
		if n, ok := decodeNotification(aws.ToString(m.Body)); ok && n.ICCID != "" {
			w.mu.Lock()
			w.pending[n.ICCID] = append(w.pending[n.ICCID], n.Message)
			w.mu.Unlock()
		}
	}
	return w.take(iccid), nil
}

func (w *failureWatch) take(iccid string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	msgs := w.pending[iccid]
	if len(msgs) == 0 {
		return ""
	}
	w.pending[iccid] = msgs[1:]
	return msgs[0]
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

// close removes the subscription and the queue, whatever ended the
// command (its context may be over: this uses its own, bounded).
func (w *failureWatch) close() {
	if w == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if w.subARN != "" {
		_, _ = w.s.sns.Unsubscribe(ctx, &sns.UnsubscribeInput{SubscriptionArn: aws.String(w.subARN)})
	}
	if w.queueURL != "" {
		_, _ = w.s.sqs.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(w.queueURL)})
	}
}
