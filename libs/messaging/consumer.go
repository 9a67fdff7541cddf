package messaging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/logging"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/steps"
)

// CommandFunc is a use case that handles one SIM command.
type CommandFunc func(ctx context.Context, cmd events.SimCommand) error

// SQSAPI is the SQS subset a consumer needs besides receiving.
type SQSAPI interface {
	GetQueueUrl(ctx context.Context, in *awssqs.GetQueueUrlInput, opts ...func(*awssqs.Options)) (*awssqs.GetQueueUrlOutput, error)
	GetQueueAttributes(ctx context.Context, in *awssqs.GetQueueAttributesInput, opts ...func(*awssqs.Options)) (*awssqs.GetQueueAttributesOutput, error)
	SendMessage(ctx context.Context, in *awssqs.SendMessageInput, opts ...func(*awssqs.Options)) (*awssqs.SendMessageOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *awssqs.ChangeMessageVisibilityInput, opts ...func(*awssqs.Options)) (*awssqs.ChangeMessageVisibilityOutput, error)
	DeleteMessage(ctx context.Context, in *awssqs.DeleteMessageInput, opts ...func(*awssqs.Options)) (*awssqs.DeleteMessageOutput, error)
}

// FailureNotifier tells operators about a message given up on.
type FailureNotifier interface {
	Failure(ctx context.Context, iccid, ip, msg string) error
}

// FailureRecorder notes a failed attempt on the SIM's record.
type FailureRecorder interface {
	RecordFailure(ctx context.Context, iccid string, f simrec.Failure) error
}

// ConsumerObserver learns what the consumer did, for metrics.
type ConsumerObserver interface {
	// Retried counts a failed attempt made visible again for another try.
	Retried(step string)
	// DeadLettered counts a message moved to the DLQ, by reason (malformed, exhausted).
	DeadLettered(reason, step string)
}

// Stepper is implemented by errors that name the step of the use case that failed.
type Stepper interface {
	Step() string
}

// Consumer runs a use case on the commands of one FIFO queue with the
// failure handling every consumer needs: a failed attempt comes back after a
// short backoff instead of the full visibility timeout; long work keeps its
// message hidden; a malformed message, or one that failed as often as the
// queue's redrive policy allows, moves to the DLQ with one failure
// notification naming the SIM and the step, and the queue keeps flowing.
type Consumer struct {
	sqs         SQSAPI
	queue       string
	queueURL    string
	dlqURL      string
	maxReceives int
	visibility  time.Duration
	notifier    FailureNotifier
	observer    ConsumerObserver
	logger      *slog.Logger
	groups      groupLocks
	// Failures, when set, receives every failed attempt for the SIM's record.
	Failures FailureRecorder
	// MaxRequeues bounds the requeues of a transiently failing command.
	MaxRequeues int
	// RetryBase and RetryMax bound the backoff between attempts.
	RetryBase, RetryMax time.Duration
}

// NewConsumer reads the queue's redrive policy and visibility timeout; a
// queue without a DLQ is a deployment error.
func NewConsumer(ctx context.Context, api SQSAPI, queue string, n FailureNotifier, obs ConsumerObserver, logger *slog.Logger) (*Consumer, error) {
	u, err := api.GetQueueUrl(ctx, &awssqs.GetQueueUrlInput{QueueName: aws.String(queue)})
	if err != nil {
		return nil, fmt.Errorf("queue %s: %w", queue, err)
	}
	attrs, err := api.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: u.QueueUrl,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameRedrivePolicy, types.QueueAttributeNameVisibilityTimeout}})
	if err != nil {
		return nil, fmt.Errorf("queue %s attributes: %w", queue, err)
	}
	dlqName, maxReceives, err := parseRedrive(attrs.Attributes[string(types.QueueAttributeNameRedrivePolicy)])
	if err != nil {
		return nil, fmt.Errorf("queue %s: %w", queue, err)
	}
	d, err := api.GetQueueUrl(ctx, &awssqs.GetQueueUrlInput{QueueName: aws.String(dlqName)})
	if err != nil {
		return nil, fmt.Errorf("dead-letter queue %s: %w", dlqName, err)
	}
	vis, _ := strconv.Atoi(attrs.Attributes[string(types.QueueAttributeNameVisibilityTimeout)])
	return &Consumer{sqs: api, queue: queue, queueURL: *u.QueueUrl, dlqURL: *d.QueueUrl, maxReceives: maxReceives,
		visibility: time.Duration(max(vis, 1)) * time.Second, notifier: n, observer: obs, logger: logger,
		RetryBase: time.Second, RetryMax: 30 * time.Second, MaxRequeues: MaxRequeues}, nil
}

func parseRedrive(policy string) (dlqName string, maxReceives int, err error) {
	var p struct {
		Target string          `json:"deadLetterTargetArn"`
		Max    json.RawMessage `json:"maxReceiveCount"`
	}
	if policy == "" {
		return "", 0, errors.New("no RedrivePolicy: every queue needs a dead-letter queue")
	}
	if err := json.Unmarshal([]byte(policy), &p); err != nil {
		return "", 0, fmt.Errorf("RedrivePolicy: %w", err)
	}
	n, err := strconv.Atoi(strings.Trim(string(p.Max), `"`))
	if err != nil || n < 1 || p.Target == "" {
		return "", 0, fmt.Errorf("RedrivePolicy %s: want deadLetterTargetArn and maxReceiveCount", policy)
	}
	return p.Target[strings.LastIndex(p.Target, ":")+1:], n, nil
}

// MaxReceives is the queue's maxReceiveCount.
func (c *Consumer) MaxReceives() int { return c.maxReceives }

// Work describes the message a handler is working on, for the policy: what
// it concerns (failure notifications and DLQ log lines), the SIM command's
// id (the record's last failure) and, optionally, what to do once the
// message is given up on (moved to the DLQ), e.g. record the failure where a
// requester looks for it. A handler describes its message with Describe as
// soon as it has decoded it.
type Work struct {
	Subject Subject
	// Command is the SIM command's id, for the record's last failure ("" for
	// other work).
	Command string
	// Log holds the attributes of every log line about the message.
	Log []any
	// GiveUp runs once when the message moves to the DLQ after the handler
	// failed for good (nil: nothing beyond the notification).
	GiveUp func(ctx context.Context, cause error)
}

// Subject is what failure notifications and DLQ log lines name. Kind, ICCID
// and IP describe a SIM command; What, when set, replaces "SIM <kind>" in
// the notification (e.g. "Sync request 42").
type Subject struct {
	Kind      events.Kind
	ICCID, IP string
	What      string
}

// ErrMalformed marks a message that can never be handled (it does not
// decode): it goes to the DLQ at once. Errors wrapping
// events.ErrInvalidCommand are treated the same way.
var ErrMalformed = errors.New("malformed message")

type workKey struct{}

// Describe tells the policy (Middleware) around the handler what the message
// in ctx concerns, and returns ctx with a logger carrying w.Log.
func Describe(ctx context.Context, w Work) context.Context {
	if slot, ok := ctx.Value(workKey{}).(*Work); ok {
		*slot = w
	}
	return logging.WithContext(ctx, logging.FromContext(ctx).With(w.Log...))
}

// Middleware is the queue's failure policy as Watermill middleware, for
// every handler of the queue: per-group serialisation, visibility kept while
// the handler works, a short backoff between attempts, a requeue with a
// fresh receive count for work that failed only transiently, the DLQ (with
// one notification) for malformed messages and for those that failed as
// often as the redrive policy allows.
//
// The handler gets the message's context with a logger (logging.FromContext)
// and without the router's cancellation: work in flight when the service
// stops is finished, not cut off (the router waits up to the shutdown
// timeout), and a message finished after the subscriber stopped listening
// for acks is deleted here, so it is not redelivered. A message whose
// handler has not started when the service stops (delivered late, or
// waiting for its group) is handed back instead (handback.go).
func (c *Consumer) Middleware(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		received := msg.Context()
		if received.Err() != nil {
			c.handBack(received, msg, "received as the service stopped")
			return nil, errHandedBack
		}
		unlock, err := c.groups.lock(received, msg.Metadata.Get(MetaGroupID))
		if err != nil {
			c.handBack(received, msg, "waiting for its group as the service stopped")
			return nil, errHandedBack
		}
		defer unlock()
		ctx := context.WithoutCancel(received)
		work := &Work{Subject: subjectOfMalformed(msg)}
		msg.SetContext(logging.WithContext(context.WithValue(ctx, workKey{}, work), c.logger.With("receive_count", receiveCount(msg))))
		stop := c.keepHidden(ctx, msg)
		out, err := h(msg)
		stop()
		if err = c.settle(ctx, msg, *work, err); err == nil && received.Err() != nil {
			c.delete(ctx, msg)
		}
		return out, err
	}
}

// settle applies the policy to the handler's outcome: nil acks the message,
// an error leaves it to SQS for another attempt.
func (c *Consumer) settle(ctx context.Context, msg *message.Message, work Work, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrInterrupted) {
		c.handBack(ctx, msg, "interrupted: "+truncate(err.Error(), 200))
		return errHandedBack
	}
	step := stepOf(err)
	if errors.Is(err, ErrMalformed) || errors.Is(err, events.ErrInvalidCommand) {
		if errors.Is(err, ErrMalformed) {
			step = "decode"
		}
		return c.deadLetter(ctx, msg, work, events.DeadLetterMalformed, step, err)
	}
	c.noteFailure(ctx, work, step, err, receiveCount(msg))
	if receiveCount(msg) >= c.maxReceives {
		if c.mayRequeue(msg, err) {
			return c.requeue(ctx, msg, work, step, err)
		}
		return c.deadLetter(ctx, msg, work, events.DeadLetterExhausted, step, err)
	}
	c.logger.Warn("message failed; retrying", append(work.Log, "receive_count", receiveCount(msg), "step", step, "error", err)...)
	c.observer.Retried(step)
	c.retryAfter(ctx, msg, c.backoff(receiveCount(msg)))
	return err
}

// CommandHandler is the handler of a SIM command queue: it decodes the
// command, describes it to the policy and runs the use case with the
// message's context.
func CommandHandler(handle CommandFunc) message.NoPublishHandlerFunc {
	return func(msg *message.Message) error {
		cmd, err := events.DecodeSimCommand(msg.Payload)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		ctx := Describe(msg.Context(), Work{Subject: subjectOf(cmd), Command: cmd.CommandID(), Log: []any{"iccid", cmd.ICCID, "kind", cmd.Kind}})
		return handle(ctx, cmd)
	}
}

// MaxRequeues bounds how often a command that keeps failing transiently is
// put back in the queue with a fresh receive count (with the default 5
// receives and 30 s backoff cap, about a day of AWS trouble).
const MaxRequeues = 500

// mayRequeue reports whether a command that used up its receives failed
// only transiently (throttling, 5xx, timeouts, resets, another command's
// claim): the DLQ is for work that cannot succeed, and such work can.
func (c *Consumer) mayRequeue(msg *message.Message, err error) bool {
	if !Transient(err) {
		return false
	}
	n, _ := strconv.Atoi(msg.Metadata.Get(metaRequeues))
	return n < c.MaxRequeues
}

// Transient reports whether an error may go away by itself: an AWS error the
// SDK would retry (throttling, 5xx, timeouts, connection errors), a deadline,
// a record that kept changing, or an error marked steps.ErrTransient.
func Transient(err error) bool {
	return errors.Is(err, steps.ErrTransient) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, simrec.ErrConflict) ||
		retryables.IsErrorRetryable(err) == aws.TrueTernary
}

var retryables = retry.IsErrorRetryables(retry.DefaultRetryables)

// metaRequeues is the message attribute counting requeues.
const metaRequeues = "requeues"

// requeue sends a copy of the message to its queue (same SIM group, fresh
// receive count) and acks the original. The copy lands after newer commands
// of the SIM, which is safe: a command computed against an older state than
// the record's is ignored as stale.
func (c *Consumer) requeue(ctx context.Context, msg *message.Message, work Work, step string, cause error) error {
	n, _ := strconv.Atoi(msg.Metadata.Get(metaRequeues))
	_, err := c.sqs.SendMessage(ctx, &awssqs.SendMessageInput{
		QueueUrl: aws.String(c.queueURL), MessageBody: aws.String(string(msg.Payload)),
		MessageGroupId:         aws.String(msg.Metadata.Get(MetaGroupID)),
		MessageDeduplicationId: aws.String(fmt.Sprintf("%s-requeue-%d", truncate(dedupOf(msg), 100), n+1)),
		MessageAttributes: map[string]types.MessageAttributeValue{
			metaRequeues: {DataType: aws.String("Number"), StringValue: aws.String(strconv.Itoa(n + 1))},
		},
	})
	if err != nil {
		return fmt.Errorf("requeue: %w (after %w)", err, cause)
	}
	c.observer.Retried(step)
	c.logger.Warn("command failed transiently as often as the queue allows; put back with a fresh receive count",
		append(work.Log, "step", step, "requeues", n+1, "error", cause)...)
	return nil
}

// noteFailure records the failed attempt of a SIM command on the SIM's
// record for operators (simbridge status); it is cleared when the command
// succeeds.
func (c *Consumer) noteFailure(ctx context.Context, work Work, step string, cause error, attempts int) {
	if c.Failures == nil || work.Command == "" || work.Subject.ICCID == "" {
		return
	}
	f := simrec.Failure{Step: step, Reason: truncate(cause.Error(), 300), At: time.Now().UTC(), Attempts: attempts, Command: work.Command}
	if err := c.Failures.RecordFailure(ctx, work.Subject.ICCID, f); err != nil {
		c.logger.Warn("failure not recorded on the SIM's record", "iccid", work.Subject.ICCID, "error", err)
	}
}

// delete removes a handled message whose subscriber stopped listening.
func (c *Consumer) delete(ctx context.Context, msg *message.Message) {
	_, err := c.sqs.DeleteMessage(ctx, &awssqs.DeleteMessageInput{
		QueueUrl: aws.String(c.queueURL), ReceiptHandle: aws.String(msg.Metadata.Get(MetaReceiptHandle)),
	})
	if err != nil {
		c.logger.Warn("delete handled message during shutdown; it will be redelivered and found done", "error", err)
	}
}

// deadLetter copies the message to the DLQ, notifies once and acks it.
// If the copy fails the message is nacked: SQS's redrive moves it later.
func (c *Consumer) deadLetter(ctx context.Context, msg *message.Message, work Work, reason, step string, cause error) error {
	sim := work.Subject
	group := msg.Metadata.Get(MetaGroupID)
	if group == "" {
		group = "dead-letter"
	}
	_, err := c.sqs.SendMessage(ctx, &awssqs.SendMessageInput{
		QueueUrl: aws.String(c.dlqURL), MessageBody: aws.String(string(msg.Payload)),
		MessageGroupId: aws.String(group), MessageDeduplicationId: aws.String(dedupOf(msg)),
		MessageAttributes: deadLetterAttributes(msg, reason, step, cause),
	})
	if err != nil {
		return fmt.Errorf("move message to DLQ: %w (after %w)", err, cause)
	}
	c.observer.DeadLettered(reason, step)
	what := sim.What
	if what == "" {
		what = "SIM " + string(sim.Kind)
	}
	text := fmt.Sprintf("%s failed at step %q after %d attempts and was moved to the dead-letter queue: %s",
		what, step, receiveCount(msg), truncate(cause.Error(), 300))
	if reason == events.DeadLetterMalformed {
		text = "Malformed message moved to the dead-letter queue: " + truncate(cause.Error(), 300)
		switch {
		case sim.What != "":
			text = fmt.Sprintf("Malformed message (%s) moved to the dead-letter queue: %s", sim.What, truncate(cause.Error(), 300))
		case sim.ICCID != "":
			text = fmt.Sprintf("Malformed message for SIM %s moved to the dead-letter queue: %s", sim.ICCID, truncate(cause.Error(), 300))
		}
	}
	c.logger.Error("message moved to DLQ", "iccid", sim.ICCID, "ip", sim.IP, "reason", reason, "step", step, "error", cause)
	if err := c.notifier.Failure(ctx, sim.ICCID, sim.IP, text); err != nil {
		c.logger.Error("failure notification not sent", "error", err)
	}
	if work.GiveUp != nil {
		work.GiveUp(ctx, cause)
	}
	return nil
}

// deadLetterAttributes are the DLQ copy's attributes: why and where it
// failed, and the redrive marks of a message an operator moved back
// (events.AttrRedrives, AttrRedriveRun), carried over so the redrive that
// moved it sees it came back and never moves it a second time.
func deadLetterAttributes(msg *message.Message, reason, step string, cause error) map[string]types.MessageAttributeValue {
	attrs := map[string]types.MessageAttributeValue{
		events.AttrDeadLetterReason: {DataType: aws.String("String"), StringValue: aws.String(reason + ": " + truncate(cause.Error(), 200))},
		events.AttrFailedStep:       {DataType: aws.String("String"), StringValue: aws.String(step)},
	}
	if n := msg.Metadata.Get(events.AttrRedrives); n != "" {
		attrs[events.AttrRedrives] = types.MessageAttributeValue{DataType: aws.String("Number"), StringValue: aws.String(n)}
	}
	if run := msg.Metadata.Get(events.AttrRedriveRun); run != "" {
		attrs[events.AttrRedriveRun] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(truncate(run, 128))}
	}
	return attrs
}

// keepHidden extends the message's visibility while long work runs.
func (c *Consumer) keepHidden(ctx context.Context, msg *message.Message) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(c.visibility / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				c.changeVisibility(ctx, msg, c.visibility)
			}
		}
	}()
	return cancel
}

// retryAfter makes the message visible again after d.
func (c *Consumer) retryAfter(ctx context.Context, msg *message.Message, d time.Duration) {
	c.changeVisibility(context.WithoutCancel(ctx), msg, d)
}

func (c *Consumer) changeVisibility(ctx context.Context, msg *message.Message, d time.Duration) {
	_, err := c.sqs.ChangeMessageVisibility(ctx, &awssqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(c.queueURL), ReceiptHandle: aws.String(msg.Metadata.Get(MetaReceiptHandle)),
		VisibilityTimeout: int32(d.Seconds()),
	})
	if err != nil && ctx.Err() == nil {
		c.logger.Warn("change message visibility", "error", err)
	}
}

// backoff grows exponentially with the receive count, up to RetryMax.
func (c *Consumer) backoff(receives int) time.Duration {
	d := time.Duration(float64(c.RetryBase) * math.Pow(2, float64(max(receives-1, 0))))
	return min(d, c.RetryMax)
}

func receiveCount(msg *message.Message) int {
	n, _ := strconv.Atoi(msg.Metadata.Get(MetaReceiveCount))
	return max(n, 1)
}

func stepOf(err error) string {
	var s Stepper
	if errors.As(err, &s) {
		return s.Step()
	}
	return "unknown"
}

func dedupOf(msg *message.Message) string {
	if id := msg.Metadata.Get(MetaMessageID); id != "" {
		return id
	}
	return msg.UUID
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// AddWorkers registers n handlers on one queue, each behind the queue's
// Middleware, so n messages (of different SIMs: FIFO keeps each group in
// order) are processed in parallel.
func (c *Consumer) AddWorkers(r *message.Router, name string, sub message.Subscriber, n int, h message.NoPublishHandlerFunc) {
	for i := range max(n, 1) {
		r.AddConsumerHandler(fmt.Sprintf("%s-%d", name, i), c.queue, sub, h).AddMiddleware(c.Middleware)
	}
}

func subjectOf(cmd events.SimCommand) Subject {
	return Subject{Kind: cmd.Kind, ICCID: cmd.ICCID, IP: cmd.IP}
}

// maxReportedIP bounds the IP quoted from an invalid command: long enough
// for any spelling of an address, too short to carry a payload.
const maxReportedIP = 64

// subjectOfMalformed reads a message that failed to decode or validate,
// leniently and for reporting only: nothing read here is ever acted on.
// The ICCID comes from the body when it holds a valid one (as a string or a
// bare number), else from the FIFO group id, which publishers set to the
// ICCID; the IP is quoted as carried, valid or not (999.1.2.3 is exactly
// what the operator must see). A body cut short still yields the fields
// that came before the damage.
func subjectOfMalformed(msg *message.Message) Subject {
	var sim Subject
	for name, raw := range topLevelFields(msg.Payload) {
		switch {
		case strings.EqualFold(name, "iccid"):
			if id := jsonScalar(raw); events.ValidICCID(id) {
				sim.ICCID = id
			}
		case strings.EqualFold(name, "ip"):
			if ip, ok := jsonString(raw); ok && len(ip) <= maxReportedIP {
				sim.IP = ip
			}
		case strings.EqualFold(name, "kind"):
			if k, ok := jsonString(raw); ok && len(k) <= 16 {
				sim.Kind = events.Kind(k)
			}
		}
	}
	if group := msg.Metadata.Get(MetaGroupID); sim.ICCID == "" && events.ValidICCID(group) {
		sim.ICCID = group
	}
	return sim
}

// topLevelFields yields the fields of a JSON object in order until the
// body ends or stops being valid JSON, with encoding/json doing the reading.
func topLevelFields(body []byte) func(yield func(string, json.RawMessage) bool) {
	return func(yield func(string, json.RawMessage) bool) {
		dec := json.NewDecoder(bytes.NewReader(body))
		if t, err := dec.Token(); err != nil || t != json.Delim('{') {
			return
		}
		for {
			key, err := dec.Token()
			name, isKey := key.(string)
			if err != nil || !isKey {
				return
			}
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil || !yield(name, raw) {
				return
			}
		}
	}
}

// jsonString returns raw's value if it is a JSON string.
func jsonString(raw json.RawMessage) (string, bool) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// jsonScalar returns a JSON string's value or a number's digits as written
// (an ICCID sent as a number is still the ICCID).
func jsonScalar(raw json.RawMessage) string {
	if s, ok := jsonString(raw); ok {
		return s
	}
	return string(raw)
}
