package opscli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/simbridge/simbridge/libs/events"
)

// queuePair is a consumer's queue and its dead-letter queue.
type queuePair struct {
	role      string // create, disable, sync
	name, dlq string
	url       string
	dlqURL    string
	arn       string
	dlqARN    string
	// maxReceives is the source queue's maxReceiveCount: how often an
	// exhausted message was tried.
	maxReceives int
}

// queuePairs resolves the environment's queues; a pair that does not exist
// (sim-poller's sync queue in an older stack) is left out.
func (s *session) queuePairs(ctx context.Context, only string) ([]*queuePair, error) {
	all := []*queuePair{
		{role: "create", name: s.names.CreateQueue(), dlq: s.names.CreateDLQ()},
		{role: "disable", name: s.names.DisableQueue(), dlq: s.names.DisableDLQ()},
		{role: "sync", name: s.names.SyncQueue(), dlq: s.names.SyncDLQ()},
	}
	var out []*queuePair
	for _, q := range all {
		if only != "" && q.role != only {
			continue
		}
		var err error
		if q.url, err = s.queueURL(ctx, q.name); errors.Is(err, errQueueMissing) {
			continue
		} else if err != nil {
			return nil, err
		}
		if q.dlqURL, err = s.queueURL(ctx, q.dlq); errors.Is(err, errQueueMissing) {
			continue
		} else if err != nil {
			return nil, err
		}
		attrs, err := s.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q.url),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn, sqstypes.QueueAttributeNameRedrivePolicy}})
		if err != nil {
			return nil, fmt.Errorf("attributes of %s: %w", q.name, err)
		}
		q.arn = attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
		q.maxReceives = maxReceiveCount(attrs.Attributes[string(sqstypes.QueueAttributeNameRedrivePolicy)])
		dattrs, err := s.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q.dlqURL),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
		if err != nil {
			return nil, fmt.Errorf("attributes of %s: %w", q.dlq, err)
		}
		q.dlqARN = dattrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
		out = append(out, q)
	}
	if only != "" && len(out) == 0 {
		return nil, usageError("no %s queue with a dead-letter queue in %s", only, s.names.Prefix)
	}
	return out, nil
}

var errQueueMissing = errors.New("queue does not exist")

func (s *session) queueURL(ctx context.Context, name string) (string, error) {
	out, err := s.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	var missing *sqstypes.QueueDoesNotExist
	if errors.As(err, &missing) {
		return "", fmt.Errorf("%s: %w", name, errQueueMissing)
	}
	if err != nil {
		return "", fmt.Errorf("find queue %s: %w", name, err)
	}
	return aws.ToString(out.QueueUrl), nil
}

func maxReceiveCount(policy string) int {
	var p struct {
		Max json.RawMessage `json:"maxReceiveCount"`
	}
	if json.Unmarshal([]byte(policy), &p) != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.Trim(string(p.Max), `"`))
	return n
}

// approxDepth is SQS's estimate of the visible messages of a queue.
func (s *session) approxDepth(ctx context.Context, url string) (int, error) {
	out, err := s.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil {
		return 0, fmt.Errorf("depth of %s: %w", url, err)
	}
	n, _ := strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
	return n, nil
}

// DeadLetter is one message of a dead-letter queue, decoded.
type DeadLetter struct {
	Queue     string    `json:"queue"`
	MessageID string    `json:"message_id"`
	ICCID     string    `json:"iccid,omitempty"`
	Kind      string    `json:"kind,omitempty"`
	IP        string    `json:"ip,omitempty"`
	CommandID string    `json:"command_id,omitempty"`
	Reason    string    `json:"reason"`
	Step      string    `json:"step"`
	Attempts  int       `json:"attempts"`
	SentAt    time.Time `json:"dead_lettered_at"`
	Malformed bool      `json:"malformed"`
	// ICCIDs are a sync request's SIMs.
	ICCIDs []string `json:"iccids,omitempty"`
	Body   string   `json:"body"`

	group   string
	receipt string
}

// matches reports whether the message concerns one of the SIMs.
func (d DeadLetter) matches(iccids map[string]bool) bool {
	if iccids[d.ICCID] {
		return true
	}
	for _, id := range d.ICCIDs {
		if iccids[id] {
			return true
		}
	}
	return false
}

// decodeDeadLetter reads what the consumer put on a DLQ copy: the original
// body, and the dead_letter_reason ("malformed: …", "exhausted: …") and
// failed_step attributes. A message SQS moved by itself (the redrive
// policy, no attributes) was tried maxReceiveCount times.
func decodeDeadLetter(q *queuePair, m sqstypes.Message) DeadLetter {
	d := DeadLetter{Queue: q.dlq, MessageID: aws.ToString(m.MessageId), Body: aws.ToString(m.Body),
		receipt: aws.ToString(m.ReceiptHandle), group: m.Attributes[string(sqstypes.MessageSystemAttributeNameMessageGroupId)]}
	if ms, err := strconv.ParseInt(m.Attributes[string(sqstypes.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
		d.SentAt = time.UnixMilli(ms).UTC()
	}
	d.Reason = attr(m, "dead_letter_reason")
	d.Step = attr(m, "failed_step")
	if d.Reason == "" {
		d.Reason = fmt.Sprintf("exhausted: moved by SQS after %d receives", q.maxReceives)
	}
	if d.Step == "" {
		d.Step = "unknown"
	}
	d.Attempts = q.maxReceives
	if strings.HasPrefix(d.Reason, "malformed") {
		d.Attempts, d.Malformed = 1, true
	}
	if q.role == "sync" {
		d.Kind = "sync"
		if r, err := events.DecodeSyncRequest([]byte(d.Body)); err == nil {
			d.CommandID, d.ICCIDs = r.ID, r.ICCIDs
			if len(r.ICCIDs) == 1 {
				d.ICCID = r.ICCIDs[0]
			}
		} else {
			d.Malformed = true
		}
		return d
	}
	if c, err := events.DecodeSimCommand([]byte(d.Body)); err == nil {
		d.ICCID, d.Kind, d.IP, d.CommandID = c.ICCID, string(c.Kind), c.IP, c.CommandID()
		return d
	}
	d.Malformed = true
	var loose map[string]any
	if json.Unmarshal([]byte(d.Body), &loose) == nil {
		if v, ok := loose["iccid"].(string); ok && validICCID(v) {
			d.ICCID = v
		}
		if v, ok := loose["kind"].(string); ok && len(v) <= 16 {
			d.Kind = v
		}
	}
	if d.ICCID == "" && validICCID(d.group) {
		d.ICCID = d.group
	}
	return d
}

func attr(m sqstypes.Message, name string) string {
	if v, ok := m.MessageAttributes[name]; ok {
		return aws.ToString(v.StringValue)
	}
	return ""
}

// peekHide is how long a peek keeps the messages it read hidden before it
// makes them visible again (at once, when it is done).
const peekHide = 30 * time.Second

// peek reads the messages of a DLQ without consuming them: each is received
// (hidden for peekHide so the next receive returns the others), then every
// one is made visible again. FIFO order holds a SIM's later messages behind
// its first while that one is hidden, so up to ten per SIM are seen. The
// peek ends at the first receive that waited a second and found nothing.
func (s *session) peek(ctx context.Context, q *queuePair, bar progress) (_ []DeadLetter, err error) {
	var out []DeadLetter
	var handles []string
	defer func() {
		if rerr := s.release(context.WithoutCancel(ctx), q.dlqURL, handles); rerr != nil && err == nil {
			err = rerr
		}
	}()
	depth, err := s.approxDepth(ctx, q.dlqURL)
	if err != nil || depth == 0 {
		return nil, err
	}
	err = s.receiveAll(ctx, q, peekHide, func(d DeadLetter) error {
		handles = append(handles, d.receipt)
		out = append(out, d)
		bar.Add(1)
		return nil
	})
	return out, err
}

// receiveAll receives the messages of q's DLQ ten at a time, each hidden for
// hide, and hands each to each until a receive that waited a second finds
// nothing or each fails.
func (s *session) receiveAll(ctx context.Context, q *queuePair, hide time.Duration, each func(DeadLetter) error) error {
	for {
		got, err := s.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(q.dlqURL), MaxNumberOfMessages: 10, VisibilityTimeout: int32(hide.Seconds()),
			WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"},
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil {
			return fmt.Errorf("receive from %s: %w", q.dlq, err)
		}
		if len(got.Messages) == 0 {
			return nil
		}
		for _, m := range got.Messages {
			if err := each(decodeDeadLetter(q, m)); err != nil {
				return err
			}
		}
	}
}

// release makes received messages visible again.
func (s *session) release(ctx context.Context, url string, handles []string) error {
	for i := 0; i < len(handles); i += 10 {
		var entries []sqstypes.ChangeMessageVisibilityBatchRequestEntry
		for j, h := range handles[i:min(i+10, len(handles))] {
			entries = append(entries, sqstypes.ChangeMessageVisibilityBatchRequestEntry{
				Id: aws.String(strconv.Itoa(j)), ReceiptHandle: aws.String(h), VisibilityTimeout: 0})
		}
		if _, err := s.sqs.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{
			QueueUrl: aws.String(url), Entries: entries}); err != nil {
			return fmt.Errorf("make peeked messages visible again: %w", err)
		}
	}
	return nil
}
