package opscli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/spf13/cobra"

	"github.com/simbridge/simbridge/libs/events"
)

// A redrive moves each message that was in the dead-letter queue when it
// began at most once, and reports exactly how many it moved:
//
//  1. It reads the DLQ as `failures` does (a snapshot: at most as many
//     messages as the queue's counters held) and selects the messages asked
//     for: those of the given SIMs, the given ids, or all. A malformed one
//     fails the same way on every try, so it stays unless --include-invalid.
//  2. It shows the plan and asks (confirm.go).
//  3. It receives the DLQ again and moves only the selected messages, by
//     their SQS message id: each is sent to its queue, marked with the
//     redrive's id and its redrive count (events.AttrRedriveRun,
//     AttrRedrives), then deleted from the DLQ. A moved message that fails
//     again comes back to the DLQ as a new message, carrying the marks
//     (the consumer keeps them): it was not selected, so it is never moved
//     a second time, and it is reported as back. So a redrive never loops,
//     and each message it moved costs at most one failure notification.
//
// There is no SQS message move task here: it moves a whole queue, malformed
// messages included, and cannot say which messages it moved.

// RedriveReport is what `failures redrive` or `failures delete` did.
type RedriveReport struct {
	Environment string `json:"environment"`
	// Action is "redrive" or "delete".
	Action string `json:"action"`
	// Done counts the messages moved back (redrive) or deleted.
	Done   int              `json:"done"`
	Queues []RedriveResult  `json:"queues"`
	Kept   []DeadLetter     `json:"kept"`
	Missed []string         `json:"missed"`
	Back   []DeadLetter     `json:"back"`
	plan   map[string]*mark `json:"-"`
}

// RedriveResult is what a redrive or delete did in one queue.
type RedriveResult struct {
	Queue string `json:"queue"`
	DLQ   string `json:"dlq"`
	Done  int    `json:"done"`
}

// mark is a selected message's queue.
type mark struct {
	q *queuePair
	d DeadLetter
}

// selection is what a redrive or delete acts on.
type selection struct {
	iccids  map[string]bool
	ids     []string
	all     bool
	invalid bool
}

func (sel selection) wants(d DeadLetter) bool {
	if sel.all || d.matches(sel.iccids) {
		return true
	}
	for _, id := range sel.ids {
		if strings.HasPrefix(d.MessageID, id) {
			return true
		}
	}
	return false
}

// unambiguous refuses an --id that names more than one message: give more
// of its characters.
func (sel selection) unambiguous(planned map[string]*mark, kept []DeadLetter) error {
	for _, id := range sel.ids {
		n := 0
		for msg := range planned {
			if strings.HasPrefix(msg, id) {
				n++
			}
		}
		for _, d := range kept {
			if strings.HasPrefix(d.MessageID, id) {
				n++
			}
		}
		if n > 1 {
			return usageError("--id %s names %d messages: give more of its characters (failures -o json shows each message_id)", id, n)
		}
	}
	return nil
}

func selectionFlags(cmd *cobra.Command, sel *selection, ids *[]string) {
	cmd.Flags().BoolVar(&sel.all, "all", false, "every message of the dead-letter queues (of --queue)")
	cmd.Flags().StringSliceVar(ids, "id", nil, "the message with this id (the ID column of failures; at least 6 characters), repeatable")
}

func (sel *selection) parse(args, ids []string) error {
	if err := requireICCIDs(args); err != nil {
		return err
	}
	if sel.all == (len(args)+len(ids) > 0) {
		return usageError("give ICCIDs, --id IDs, or --all")
	}
	sel.iccids = map[string]bool{}
	for _, a := range args {
		sel.iccids[a] = true
	}
	for _, id := range ids {
		if len(id) < 6 {
			return usageError("--id %q: give at least 6 characters of the message id", id)
		}
	}
	sel.ids = ids
	return nil
}

func newRedriveCommand(o *Options, queue *string) *cobra.Command {
	cmd, sel := newDLQChangeCommand(o, queue, "redrive")
	cmd.Use = "redrive [ICCID...] [--id ID...] [--all]"
	cmd.Short = "Move dead letters back to their queue, each at most once: those of the given SIMs or ids, or all"
	cmd.Long = `redrive moves dead-lettered messages back to the queue they failed on, so the
provisioner, deactivator or sim-poller tries them again: those of the given SIMs, the
given message ids (failures' ID column: sync requests, malformed messages), or all.

Each message that was in the dead-letter queue when the redrive began is moved at
most once, message by message, and the count printed is exactly what was moved. A
message that fails again comes back to the dead-letter queue (with one failure
notification) and is reported as back, never moved a second time. A malformed
message fails the same way on every try: it stays where it is unless
--include-invalid is given (delete it with 'simbridge failures delete --id ID').
On a terminal the plan is shown and confirmed; --yes for scripts, --dry-run to see it.

A command that was computed against an older record version is ignored as stale
when it comes back; 'simbridge sync ICCID' recomputes it from 1NCE instead.

Exit code 3 when nothing was moved.`
	cmd.Example = `  simbridge failures redrive 8988280666000000001 8988280666000000002 --dry-run
  simbridge failures redrive --all --queue create --yes
  simbridge failures redrive --id 4f2a9c1b --include-invalid`
	cmd.Flags().BoolVar(&sel.invalid, "include-invalid", false, "move malformed messages too (they fail the same way again)")
	return cmd
}

func newDeleteCommand(o *Options, queue *string) *cobra.Command {
	cmd, sel := newDLQChangeCommand(o, queue, "delete")
	sel.invalid = true // a malformed message is what delete is for
	cmd.Use = "delete [ICCID...] [--id ID...] [--all]"
	cmd.Short = "Delete dead letters for good (a poison message), after confirmation"
	cmd.Long = `delete removes dead-lettered messages for good: those of the given SIMs, the given
message ids (failures' ID column), or all (of --queue). It is the way out for a
message that can never be handled (malformed), which redrive leaves in place. On a
terminal the messages are listed and the deletion confirmed; --yes for scripts,
--dry-run to see the list. A deleted command is not lost work: 'simbridge sync ICCID'
recomputes what a SIM needs from 1NCE.

Exit code 3 when nothing was deleted.`
	cmd.Example = `  simbridge failures delete --id 4f2a9c1b --dry-run
  simbridge failures delete --id 4f2a9c1b`
	return cmd
}

// newDLQChangeCommand is what redrive and delete share: the selection
// (ICCIDs, --id, --all), --yes and --dry-run, and the run.
func newDLQChangeCommand(o *Options, queue *string, action string) (*cobra.Command, *selection) {
	sel := &selection{}
	var ids []string
	var change *changeFlags
	cmd := &cobra.Command{
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := sel.parse(args, ids); err != nil {
				return err
			}
			if err := checkQueueRole(*queue); err != nil {
				return err
			}
			s, err := connect(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return s.moveOrDelete(cmd.Context(), action, *queue, *sel, change)
		},
	}
	selectionFlags(cmd, sel, &ids)
	change = addChangeFlags(cmd)
	return cmd, sel
}

// moveOrDelete selects, confirms and then redrives or deletes (above).
func (s *session) moveOrDelete(ctx context.Context, action, only string, sel selection, change *changeFlags) error {
	pairs, err := s.queuePairs(ctx, only)
	if err != nil {
		return err
	}
	rep := RedriveReport{Environment: s.where(ctx), Action: action, Queues: []RedriveResult{}, Kept: []DeadLetter{}, Missed: []string{},
		Back: []DeadLetter{}, plan: map[string]*mark{}}
	p := Plan{}
	for _, q := range pairs {
		c, err := s.queueCounts(ctx, q.dlqURL)
		if err != nil {
			return err
		}
		letters, err := s.peek(ctx, q, c.Total(), noProgress{})
		if err != nil {
			return err
		}
		for _, d := range letters {
			switch {
			case !sel.wants(d):
			case d.Malformed && !sel.invalid:
				rep.Kept = append(rep.Kept, d)
				p.Notes = append(p.Notes, fmt.Sprintf("kept: %s %s %s is malformed (%s); it fails the same way again (--include-invalid moves it, failures delete --id %s removes it)",
					d.Queue, d.ID, dash(d.ICCID), d.Reason, d.ID))
			default:
				rep.plan[d.MessageID] = &mark{q: q, d: d}
				p.Steps = append(p.Steps, PlannedStep{Action: action, Target: d.ID, Detail: describeLetter(action, q, d)})
			}
		}
		if c.InFlight > 0 {
			p.Notes = append(p.Notes, fmt.Sprintf("%d message(s) of %s are in flight (another simbridge or a consumer holds them) and were not considered", c.InFlight, q.dlq))
		}
	}
	if err := sel.unambiguous(rep.plan, rep.Kept); err != nil {
		return err
	}
	p.Change = fmt.Sprintf("%s %d dead letter(s)", action, len(p.Steps))
	ok, err := s.approve(ctx, change, p)
	if err != nil || change.dryRun {
		return err
	}
	if ok {
		run := newID(s.now())
		for _, q := range pairs {
			n, err := s.applyTo(ctx, q, action, run, &rep)
			rep.Done += n
			rep.Queues = append(rep.Queues, RedriveResult{Queue: q.role, DLQ: q.dlq, Done: n})
			if err != nil {
				return err
			}
		}
		for id, m := range rep.plan {
			if m != nil {
				rep.Missed = append(rep.Missed, id)
			}
		}
	}
	return s.printRedrive(rep)
}

func describeLetter(action string, q *queuePair, d DeadLetter) string {
	what := fmt.Sprintf("%s %s %s (%s)", q.role, dash(d.ICCID), dash(d.Kind), d.Reason)
	if action == "redrive" {
		return what + " → back to " + q.name
	}
	return what + " from " + q.dlq
}

// applyTo receives q's DLQ again and moves or deletes the planned messages
// of it; every other message it receives is made visible again.
func (s *session) applyTo(ctx context.Context, q *queuePair, action, run string, rep *RedriveReport) (done int, err error) {
	want := 0
	for _, m := range rep.plan {
		if m != nil && m.q == q {
			want++
		}
	}
	if want == 0 {
		return 0, nil
	}
	c, err := s.queueCounts(ctx, q.dlqURL)
	if err != nil {
		return 0, err
	}
	bar := newProgress(s.errOut, s.opts.Progress, int64(want), action+" "+q.dlq, "messages")
	defer bar.Finish()
	var others []string
	defer func() {
		if rerr := s.release(context.WithoutCancel(ctx), q.dlqURL, others); rerr != nil && err == nil {
			err = rerr
		}
	}()
	err = s.receiveUpTo(ctx, q, time.Minute, c.Total(), func(d DeadLetter) error {
		m := rep.plan[d.MessageID]
		if m == nil {
			if d.run == run {
				rep.Back = append(rep.Back, d)
			}
			others = append(others, d.receipt)
			return nil
		}
		if action == "redrive" {
			if err := s.sendBack(ctx, q, d, run); err != nil {
				return err
			}
		} else if _, err := s.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.dlqURL), ReceiptHandle: aws.String(d.receipt)}); err != nil {
			return fmt.Errorf("delete %s from %s: %w", d.MessageID, q.dlq, err)
		}
		rep.plan[d.MessageID] = nil
		done++
		bar.Add(1)
		return nil
	}, func() bool { return done == want })
	return done, err
}

// sendBack sends a dead letter to its queue with a fresh deduplication id
// (the original's may still be in SQS's five-minute window) and the redrive
// marks, then deletes it from the DLQ.
func (s *session) sendBack(ctx context.Context, q *queuePair, d DeadLetter, run string) error {
	group := d.group
	if group == "" {
		group = dash(d.ICCID)
	}
	_, err := s.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.url), MessageBody: aws.String(d.Body),
		MessageGroupId: aws.String(group), MessageDeduplicationId: aws.String(run + "-" + d.MessageID),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			events.AttrRedrives:   {DataType: aws.String("Number"), StringValue: aws.String(strconv.Itoa(d.Redrives + 1))},
			events.AttrRedriveRun: {DataType: aws.String("String"), StringValue: aws.String(run)},
		}})
	if err != nil {
		return fmt.Errorf("send %s back to %s: %w", d.MessageID, q.name, err)
	}
	if _, err := s.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.dlqURL), ReceiptHandle: aws.String(d.receipt)}); err != nil {
		return fmt.Errorf("delete %s from %s (it is now in both queues; the consumer will find it done): %w", d.MessageID, q.dlq, err)
	}
	return nil
}

func (s *session) printRedrive(rep RedriveReport) error {
	if s.opts.Output == FormatJSON {
		if err := writeJSON(s.out, rep); err != nil {
			return err
		}
	} else {
		verb := map[string]string{"redrive": "moved back", "delete": "deleted"}[rep.Action]
		for _, r := range rep.Queues {
			if r.Done > 0 {
				fmt.Fprintf(s.out, "%s: %s %d message(s)\n", r.DLQ, verb, r.Done)
			}
		}
		fmt.Fprintf(s.out, "%s %d message(s) in all\n", verb, rep.Done)
		for _, d := range rep.Kept {
			fmt.Fprintf(s.out, "kept %s %s (%s): malformed, fails the same way again; --include-invalid moves it, simbridge failures delete --id %s removes it\n",
				d.ID, dash(d.ICCID), d.Queue, d.ID)
		}
		if len(rep.Missed) > 0 {
			fmt.Fprintf(s.out, "%d planned message(s) were not found again (taken meanwhile): %s\n", len(rep.Missed), strings.Join(rep.Missed, ", "))
		}
		for _, d := range rep.Back {
			fmt.Fprintf(s.out, "back already: %s %s failed again (%s); not moved a second time\n", d.ID, dash(d.ICCID), d.Reason)
		}
	}
	if rep.Done == 0 {
		if s.opts.Output == FormatTable && len(rep.Kept) == 0 {
			fmt.Fprintln(s.out, "nothing to "+rep.Action)
		}
		return attention("")
	}
	return nil
}
