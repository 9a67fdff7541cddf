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

// queueRoles are the consumers' queues by role (--queue).
var queueRoles = []string{"create", "update", "disable", "sync"}

// queuePair is a consumer's queue and its dead-letter queue.
type queuePair struct {
	role      string // create, disable, sync
	name, dlq string
	url       string
	dlqURL    string
	// maxReceives is the source queue's maxReceiveCount: how often an
	// exhausted message was tried.
	maxReceives int
}

// queuePairs resolves the environment's queues (the environment check
// made sure they exist), or only's.
func (s *session) queuePairs(ctx context.Context, only string) ([]*queuePair, error) {
	all := []*queuePair{
		{role: "create", name: s.names.CreateQueue(), dlq: s.names.CreateDLQ()},
		{role: "update", name: s.names.UpdateQueue(), dlq: s.names.UpdateDLQ()},
		{role: "disable", name: s.names.DisableQueue(), dlq: s.names.DisableDLQ()},
		{role: "sync", name: s.names.SyncQueue(), dlq: s.names.SyncDLQ()},
	}
	var out []*queuePair
	for _, q := range all {
		if only != "" && q.role != only {
			continue
		}
		var err error
		if q.url, err = s.queueURL(ctx, q.name); err != nil {
			return nil, err
		}
		if q.dlqURL, err = s.queueURL(ctx, q.dlq); err != nil {
			return nil, err
		}
		attrs, err := s.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q.url),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameRedrivePolicy}})
		if err != nil {
			return nil, fmt.Errorf("attributes of %s: %w", q.name, err)
		}
		q.maxReceives = maxReceiveCount(attrs.Attributes[string(sqstypes.QueueAttributeNameRedrivePolicy)])
		out = append(out, q)
	}
	return out, nil
}

var errQueueMissing = errors.New("queue does not exist")

// queueURL finds a queue of the environment (cached for the command).
func (s *session) queueURL(ctx context.Context, name string) (string, error) {
	if u, ok := s.queues.Load(name); ok {
		return u.(string), nil
	}
	out, err := s.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	var missing *sqstypes.QueueDoesNotExist
	if errors.As(err, &missing) {
		return "", fmt.Errorf("%s: %w", name, errQueueMissing)
	}
	if err != nil {
		return "", fmt.Errorf("find queue %s: %w", name, err)
	}
	s.queues.Store(name, aws.ToString(out.QueueUrl))
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

// QueueCount is what SQS counts in a dead-letter queue.
type QueueCount struct {
	Queue string `json:"queue"`
	DLQ   string `json:"dlq"`
	// Visible messages wait; InFlight ones are being read (by another
	// simbridge, or a peek not yet released); Delayed ones are not
	// deliverable yet. SQS's counts are approximate.
	Visible  int `json:"visible"`
	InFlight int `json:"in_flight"`
	Delayed  int `json:"delayed"`
}

// Total is every message the queue holds.
func (c QueueCount) Total() int { return c.Visible + c.InFlight + c.Delayed }

// queueCounts reads a queue's own counters.
func (s *session) queueCounts(ctx context.Context, url string) (QueueCount, error) {
	out, err := s.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible, sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
	if err != nil {
		return QueueCount{}, fmt.Errorf("counts of %s: %w", url, err)
	}
	n := func(a sqstypes.QueueAttributeName) int { v, _ := strconv.Atoi(out.Attributes[string(a)]); return v }
	return QueueCount{Visible: n(sqstypes.QueueAttributeNameApproximateNumberOfMessages),
		InFlight: n(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible),
		Delayed:  n(sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed)}, nil
}

// DeadLetter is one message of a dead-letter queue, decoded.
type DeadLetter struct {
	// Queue is the role of the queue it failed on (create, disable, sync),
	// DLQ the dead-letter queue's name.
	Queue string `json:"queue"`
	DLQ   string `json:"dlq"`
	// MessageID is SQS's id; ID its first 8 characters, what `failures
	// redrive --id` and `failures delete --id` take.
	MessageID string `json:"message_id"`
	ID        string `json:"id"`
	ICCID     string `json:"iccid,omitempty"`
	Kind      string `json:"kind,omitempty"`
	IP        string `json:"ip,omitempty"`
	CommandID string `json:"command_id,omitempty"`
	Reason    string `json:"reason"`
	Step      string `json:"step"`
	Attempts  int    `json:"attempts"`
	// Redrives counts how often an operator moved it back before.
	Redrives int       `json:"redrives"`
	SentAt   time.Time `json:"dead_lettered_at"`
	// Malformed: the message can never be handled (the consumer said so,
	// or it does not decode): a redrive leaves it unless --include-invalid.
	Malformed bool `json:"malformed"`
	// ICCIDs are a sync request's SIMs.
	ICCIDs []string `json:"iccids"`
	Body   string   `json:"body"`

	group   string
	receipt string
	run     string
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

// handleLen is the length of the short message ids `failures` shows.
const handleLen = 8

// decodeDeadLetter reads what the consumer put on a DLQ copy: the original
// body, the reason ("malformed: …", "exhausted: …"), the failed step and
// any redrive marks (events.Attr*). A message SQS moved by itself (the
// redrive policy, no attributes) was tried maxReceiveCount times; whether
// it can ever be handled is then what the contract's decoder (the one the
// consumer uses) says of its body.
func decodeDeadLetter(q *queuePair, m sqstypes.Message) DeadLetter {
	d := DeadLetter{Queue: q.role, DLQ: q.dlq, MessageID: aws.ToString(m.MessageId), Body: aws.ToString(m.Body), ICCIDs: []string{},
		receipt: aws.ToString(m.ReceiptHandle), group: m.Attributes[string(sqstypes.MessageSystemAttributeNameMessageGroupId)]}
	d.ID = d.MessageID[:min(handleLen, len(d.MessageID))]
	if ms, err := strconv.ParseInt(m.Attributes[string(sqstypes.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
		d.SentAt = time.UnixMilli(ms).UTC()
	}
	d.Reason = attr(m, events.AttrDeadLetterReason)
	d.Step = attr(m, events.AttrFailedStep)
	d.Redrives, _ = strconv.Atoi(attr(m, events.AttrRedrives))
	d.run = attr(m, events.AttrRedriveRun)
	if d.Reason == "" {
		d.Reason = fmt.Sprintf("%s: moved by SQS after %d receives", events.DeadLetterExhausted, q.maxReceives)
	}
	if d.Step == "" {
		d.Step = "unknown"
	}
	d.Attempts = q.maxReceives
	if strings.HasPrefix(d.Reason, events.DeadLetterMalformed) {
		d.Attempts, d.Malformed = 1, true
	}
	if q.role == "sync" {
		d.Kind = "sync"
		if r, err := events.DecodeSyncRequest([]byte(d.Body)); err == nil {
			d.CommandID, d.ICCIDs = r.ID, append(d.ICCIDs, r.ICCIDs...)
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
// one is made visible again. It reads at most as many as the queue counted
// when it began. FIFO order holds a SIM's later messages behind its first
// while that one is hidden, so up to ten per SIM are seen.
func (s *session) peek(ctx context.Context, q *queuePair, count int, bar progress) (_ []DeadLetter, err error) {
	var out []DeadLetter
	var handles []string
	defer func() {
		if rerr := s.release(context.WithoutCancel(ctx), q.dlqURL, handles); rerr != nil && err == nil {
			err = rerr
		}
	}()
	if count == 0 {
		return nil, nil
	}
	err = s.receiveUpTo(ctx, q, peekHide, count, func(d DeadLetter) error {
		handles = append(handles, d.receipt)
		out = append(out, d)
		bar.Add(1)
		return nil
	}, nil)
	return out, err
}

// receiveUpTo receives the messages of q's DLQ ten at a time, each hidden
// for hide, and hands each message not seen before to each, until limit
// were handed, done (when given) says so after a batch, a receive that
// waited a second finds nothing, or each fails. A received message stays
// hidden (each decides what becomes of it), so none is handed twice.
func (s *session) receiveUpTo(ctx context.Context, q *queuePair, hide time.Duration, limit int, each func(DeadLetter) error, done func() bool) error {
	seen := map[string]bool{}
	for len(seen) < limit && (done == nil || !done()) {
		got, err := s.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(q.dlqURL), MaxNumberOfMessages: int32(min(10, limit-len(seen))), VisibilityTimeout: int32(hide.Seconds()),
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
			if seen[aws.ToString(m.MessageId)] {
				continue
			}
			seen[aws.ToString(m.MessageId)] = true
			if err := each(decodeDeadLetter(q, m)); err != nil {
				return err
			}
		}
	}
	return nil
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
