package opscli

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// FailuresReport is `failures`'s answer (-o json): each dead-letter
// queue's own counters and its messages, grouped.
type FailuresReport struct {
	Environment string `json:"environment"`
	// Queues are the DLQs' counters: the truth about how many messages
	// wait, including those in flight that nobody could read just now.
	Queues []QueueCount    `json:"queues"`
	Groups []FailureGroup  `json:"groups"`
	Total  int             `json:"total"`
	Unread int             `json:"unread"`
	queues map[string]bool // roles read
}

// FailureGroup is one line of `failures`: the dead letters of one SIM, kind,
// step and reason class in one queue.
type FailureGroup struct {
	Queue     string       `json:"queue"`
	DLQ       string       `json:"dlq"`
	ICCID     string       `json:"iccid,omitempty"`
	Kind      string       `json:"kind,omitempty"`
	Step      string       `json:"step"`
	Reason    string       `json:"reason"`
	Attempts  int          `json:"attempts"`
	Count     int          `json:"count"`
	Redrives  int          `json:"redrives"`
	FirstSeen time.Time    `json:"first_seen"`
	LastSeen  time.Time    `json:"last_seen"`
	Messages  []DeadLetter `json:"messages"`
}

func newFailuresCommand(o *Options) *cobra.Command {
	var queue string
	cmd := &cobra.Command{
		Use:   "failures",
		Short: "What is in the dead-letter queues, decoded; `failures redrive` moves it back, `failures delete` removes it",
		Long: `failures reads the dead-letter queues of the create, update, disable and sync queues without
consuming them (each message is received hidden for a moment, then made visible
again) and groups them per SIM, kind, failed step and reason, with the attempts
made, how often an operator redrove them before, and when the first and last of
them were dead-lettered. Each message has a short id (ID), which redrive and delete
take with --id: the way to name a message without an ICCID (a sync request, a
malformed message).

The counts come from the queues' own counters (SQS's ApproximateNumberOfMessages,
…NotVisible and …Delayed), so messages in flight, which no one can read at that
moment, are counted too: failures never reports empty while any message waits.

Exit code 3 when a dead-letter queue holds messages.`,
		Example: `  simbridge failures
  simbridge failures --queue create -o json
  simbridge failures redrive 8988280666000000001 --dry-run
  simbridge failures redrive --all
  simbridge failures delete --id 4f2a9c1b`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkQueueRole(queue); err != nil {
				return err
			}
			s, err := connect(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return s.failures(cmd.Context(), queue)
		},
	}
	cmd.PersistentFlags().StringVar(&queue, "queue", "", "only this queue's DLQ: create, update, disable or sync")
	cmd.AddCommand(newRedriveCommand(o, &queue), newDeleteCommand(o, &queue))
	return cmd
}

func checkQueueRole(q string) error {
	for _, r := range queueRoles {
		if q == r || q == "" {
			return nil
		}
	}
	return usageError("--queue %q: want create, update, disable or sync", q)
}

func (s *session) failures(ctx context.Context, only string) error {
	rep, err := s.deadLetters(ctx, only)
	if err != nil {
		return err
	}
	switch s.opts.Output {
	case FormatJSON:
		if err := writeJSON(s.out, rep); err != nil {
			return err
		}
	case FormatCSV:
		if err := s.failureRows(rep, FormatCSV); err != nil {
			return err
		}
	default:
		s.header(ctx)
		var counts []string
		for _, q := range rep.Queues {
			c := fmt.Sprintf("%s %d", q.Queue, q.Total())
			if q.InFlight > 0 {
				c += fmt.Sprintf(" (%d in flight)", q.InFlight)
			}
			counts = append(counts, c)
		}
		fmt.Fprintf(s.out, "dead-letter queues: %s\n", strings.Join(counts, ", "))
		if rep.Total == 0 {
			fmt.Fprintln(s.out, "no messages in the dead-letter queues")
			return nil
		}
		if len(rep.Groups) > 0 {
			fmt.Fprintln(s.out)
			if err := s.failureRows(rep, FormatTable); err != nil {
				return err
			}
		}
		if rep.Unread > 0 {
			fmt.Fprintf(s.out, "\n%d message(s) could not be read now (in flight: another simbridge or a consumer holds them); run failures again shortly\n", rep.Unread)
		}
		fmt.Fprintf(s.out, "\n%d message(s); after fixing the cause: simbridge failures redrive ICCID…|--id ID…|--all (a malformed one: simbridge failures delete --id ID)\n", rep.Total)
	}
	if rep.Total > 0 {
		return attention("")
	}
	return nil
}

// failureCSVColumns are `failures -o csv`'s, one row per message.
var failureCSVColumns = []column{{"queue", 0}, {"dlq", 0}, {"message_id", 0}, {"id", 0}, {"iccid", 0}, {"kind", 0},
	{"step", 0}, {"attempts", 0}, {"redrives", 0}, {"malformed", 0}, {"dead_lettered_at", 0}, {"reason", 0}}

// failureRows writes the groups, one row per message's group (table) or
// per message (CSV, with its full id).
func (s *session) failureRows(rep FailuresReport, format string) error {
	if format == FormatCSV {
		w, err := newRowWriter(s.out, FormatCSV, failureCSVColumns)
		if err != nil {
			return err
		}
		for _, g := range rep.Groups {
			for _, d := range g.Messages {
				if err := w.Row([]string{d.Queue, d.DLQ, d.MessageID, d.ID, d.ICCID, d.Kind, d.Step, strconv.Itoa(d.Attempts),
					strconv.Itoa(d.Redrives), strconv.FormatBool(d.Malformed), rfc3339(d.SentAt), d.Reason}, d); err != nil {
					return err
				}
			}
		}
		return w.Close()
	}
	w, err := newRowWriter(s.out, FormatTable, []column{{"queue", 7}, {"id", 8}, {"iccid", 22}, {"kind", 8}, {"step", 24},
		{"attempts", 8}, {"redrives", 8}, {"count", 5}, {"first_seen", 20}, {"last_seen", 20}, {"reason", 0}})
	if err != nil {
		return err
	}
	for _, g := range rep.Groups {
		ids := make([]string, 0, len(g.Messages))
		for _, d := range g.Messages {
			ids = append(ids, d.ID)
		}
		cells := []string{g.Queue, strings.Join(ids, ","), dash(g.ICCID), dash(g.Kind), g.Step, strconv.Itoa(g.Attempts), strconv.Itoa(g.Redrives),
			strconv.Itoa(g.Count), stamp(g.FirstSeen), stamp(g.LastSeen), g.Reason}
		if err := w.Row(cells, g); err != nil {
			return err
		}
	}
	return w.Close()
}

// deadLetters reads every DLQ of the environment (or only's): its counters
// first, then its messages, without consuming them.
func (s *session) deadLetters(ctx context.Context, only string) (FailuresReport, error) {
	rep := FailuresReport{Environment: s.where(ctx), Queues: []QueueCount{}, Groups: []FailureGroup{}}
	pairs, err := s.queuePairs(ctx, only)
	if err != nil {
		return rep, err
	}
	counts := map[*queuePair]QueueCount{}
	for _, q := range pairs {
		c, err := s.queueCounts(ctx, q.dlqURL)
		if err != nil {
			return rep, err
		}
		c.Queue, c.DLQ = q.role, q.dlq
		counts[q] = c
		rep.Queues = append(rep.Queues, c)
		rep.Total += c.Total()
	}
	bar := newProgress(s.errOut, s.opts.Progress, int64(rep.Total), "reading dead-letter queues", "messages")
	defer bar.Finish()
	var letters []DeadLetter
	for _, q := range pairs {
		got, err := s.peek(ctx, q, counts[q].Total(), bar)
		if err != nil {
			return rep, err
		}
		letters = append(letters, got...)
	}
	rep.Groups = groupFailures(letters)
	rep.Unread = max(rep.Total-len(letters), 0)
	return rep, nil
}

func groupFailures(letters []DeadLetter) []FailureGroup {
	idx := map[string]*FailureGroup{}
	var keys []string
	for _, d := range letters {
		class, _, _ := strings.Cut(d.Reason, ":")
		key := strings.Join([]string{d.Queue, d.ICCID, d.Kind, d.Step, class}, "|")
		g, ok := idx[key]
		if !ok {
			g = &FailureGroup{Queue: d.Queue, DLQ: d.DLQ, ICCID: d.ICCID, Kind: d.Kind, Step: d.Step, FirstSeen: d.SentAt}
			idx[key] = g
			keys = append(keys, key)
		}
		g.Count++
		g.Attempts = max(g.Attempts, d.Attempts)
		g.Redrives = max(g.Redrives, d.Redrives)
		if d.SentAt.Before(g.FirstSeen) {
			g.FirstSeen = d.SentAt
		}
		if !d.SentAt.Before(g.LastSeen) {
			g.LastSeen, g.Reason = d.SentAt, d.Reason
		}
		g.Messages = append(g.Messages, d)
	}
	sort.Strings(keys)
	out := make([]FailureGroup, len(keys))
	for i, k := range keys {
		out[i] = *idx[k]
	}
	return out
}
