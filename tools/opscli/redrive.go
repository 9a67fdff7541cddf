package opscli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/spf13/cobra"
)

// RedriveResult is what `failures redrive` moved, per queue.
type RedriveResult struct {
	Queue  string `json:"queue"`
	Moved  int    `json:"moved"`
	Method string `json:"method"`
}

func newRedriveCommand(o *Options, queue *string) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "redrive [ICCID...] [--all]",
		Short: "Move dead letters back to their queue: those of the given SIMs, or all",
		Long: `redrive moves dead-lettered messages back to the queue they failed on, so the
provisioner, deactivator or sim-poller tries them again. With --all it starts an SQS
message move task per dead-letter queue (StartMessageMoveTask) and follows it; where
that is not available (the local emulator) and for given SIMs it receives each
message, sends it to its queue and deletes it from the dead-letter queue.

A command that was computed against an older record version is ignored as stale
when it comes back; 'simbridge sync ICCID' recomputes it from 1NCE instead.`,
		Example: `  simbridge failures redrive 8988280666000000001 8988280666000000002
  simbridge failures redrive --all --queue create`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return usageError("give ICCIDs or --all")
			}
			if err := requireICCIDs(args); err != nil {
				return err
			}
			s, err := connect(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return s.redrive(cmd.Context(), *queue, args, all)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "move every message of the dead-letter queues")
	return cmd
}

func (s *session) redrive(ctx context.Context, only string, iccids []string, all bool) error {
	pairs, err := s.queuePairs(ctx, only)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, id := range iccids {
		want[id] = true
	}
	var results []RedriveResult
	moved := 0
	for _, q := range pairs {
		depth, err := s.approxDepth(ctx, q.dlqURL)
		if err != nil {
			return err
		}
		if depth == 0 {
			continue
		}
		res := RedriveResult{Queue: q.dlq}
		if all {
			res.Moved, err = s.moveTask(ctx, q, depth)
			res.Method = "StartMessageMoveTask"
			if errors.Is(err, errMoveTaskUnavailable) {
				fmt.Fprintf(s.errOut, "%s: %v; moving message by message\n", q.dlq, err)
				err = nil
				res.Method = "receive/send/delete"
				res.Moved, err = s.moveEach(ctx, q, nil, depth)
			}
		} else {
			res.Method = "receive/send/delete"
			res.Moved, err = s.moveEach(ctx, q, want, depth)
		}
		if err != nil {
			return err
		}
		moved += res.Moved
		results = append(results, res)
	}
	if s.opts.Output == FormatJSON {
		if results == nil {
			results = []RedriveResult{}
		}
		if err := writeJSON(s.out, results); err != nil {
			return err
		}
	} else {
		for _, r := range results {
			fmt.Fprintf(s.out, "%s: moved %d messages back (%s)\n", r.Queue, r.Moved, r.Method)
		}
	}
	if moved == 0 {
		if s.opts.Output == FormatTable {
			fmt.Fprintln(s.out, "nothing to move")
		}
		return attention("")
	}
	return nil
}

var errMoveTaskUnavailable = errors.New("StartMessageMoveTask unavailable")

// moveTask moves a whole DLQ back with an SQS message move task and follows
// it until it ends.
func (s *session) moveTask(ctx context.Context, q *queuePair, depth int) (int, error) {
	// One attempt: an emulator without the operation answers 5xx, which the
	// standard retryer would retry for minutes before the fallback.
	_, err := s.sqs.StartMessageMoveTask(ctx, &sqs.StartMessageMoveTaskInput{SourceArn: aws.String(q.dlqARN), DestinationArn: aws.String(q.arn)},
		func(o *sqs.Options) { o.RetryMaxAttempts = 1 })
	if err != nil {
		if ctx.Err() != nil {
			return 0, err
		}
		return 0, fmt.Errorf("%w: %v", errMoveTaskUnavailable, err)
	}
	bar := newProgress(s.errOut, s.opts.Progress, int64(depth), "moving "+q.dlq, "messages")
	defer bar.Finish()
	for {
		out, err := s.sqs.ListMessageMoveTasks(ctx, &sqs.ListMessageMoveTasksInput{SourceArn: aws.String(q.dlqARN), MaxResults: aws.Int32(1)})
		if err != nil {
			return 0, fmt.Errorf("follow the move task of %s: %w", q.dlq, err)
		}
		if len(out.Results) > 0 {
			t := out.Results[0]
			if t.ApproximateNumberOfMessagesToMove != nil {
				bar.SetTotal(*t.ApproximateNumberOfMessagesToMove)
			}
			bar.Add(0)
			switch aws.ToString(t.Status) {
			case "COMPLETED":
				return int(t.ApproximateNumberOfMessagesMoved), nil
			case "FAILED", "CANCELLED":
				return int(t.ApproximateNumberOfMessagesMoved), fmt.Errorf("move task of %s %s: %s", q.dlq, aws.ToString(t.Status), aws.ToString(t.FailureReason))
			}
		}
		if err := (simrec.SystemClock{}).Sleep(ctx, time.Second); err != nil {
			return 0, err
		}
	}
}

// moveEach moves the messages of the DLQ that concern the SIMs in want
// (all when want is nil) one by one: send to the queue with a fresh
// deduplication id (the original's may still be in SQS's five-minute
// window), then delete from the DLQ. Others are made visible again.
func (s *session) moveEach(ctx context.Context, q *queuePair, want map[string]bool, depth int) (moved int, err error) {
	bar := newProgress(s.errOut, s.opts.Progress, int64(depth), "moving "+q.dlq, "messages")
	defer bar.Finish()
	var skipped []string
	defer func() {
		if rerr := s.release(context.WithoutCancel(ctx), q.dlqURL, skipped); rerr != nil && err == nil {
			err = rerr
		}
	}()
	err = s.receiveAll(ctx, q, time.Minute, func(d DeadLetter) error {
		if want != nil && !d.matches(want) {
			skipped = append(skipped, d.receipt)
			return nil
		}
		if err := s.sendBack(ctx, q, d); err != nil {
			return err
		}
		moved++
		bar.Add(1)
		return nil
	})
	return moved, err
}

func (s *session) sendBack(ctx context.Context, q *queuePair, d DeadLetter) error {
	group := d.group
	if group == "" {
		group = dash(d.ICCID)
	}
	sum := sha256.Sum256([]byte("redrive|" + d.MessageID + "|" + strconv.FormatInt(s.now().UnixNano(), 10)))
	_, err := s.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.url), MessageBody: aws.String(d.Body),
		MessageGroupId: aws.String(group), MessageDeduplicationId: aws.String(hex.EncodeToString(sum[:]))})
	if err != nil {
		return fmt.Errorf("send %s back to %s: %w", d.MessageID, q.name, err)
	}
	if _, err := s.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.dlqURL), ReceiptHandle: aws.String(d.receipt)}); err != nil {
		return fmt.Errorf("delete %s from %s (it is now in both queues; the consumer will find it done): %w", d.MessageID, q.dlq, err)
	}
	return nil
}

// trimReason shortens a reason for tables.
func trimReason(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
