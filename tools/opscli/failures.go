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

// FailureGroup is one line of `failures`: the dead letters of one SIM, kind,
// step and reason class in one queue.
type FailureGroup struct {
	Queue     string       `json:"queue"`
	ICCID     string       `json:"iccid,omitempty"`
	Kind      string       `json:"kind,omitempty"`
	Step      string       `json:"step"`
	Reason    string       `json:"reason"`
	Attempts  int          `json:"attempts"`
	Count     int          `json:"count"`
	FirstSeen time.Time    `json:"first_seen"`
	LastSeen  time.Time    `json:"last_seen"`
	Messages  []DeadLetter `json:"messages"`
}

func newFailuresCommand(o *Options) *cobra.Command {
	var queue string
	cmd := &cobra.Command{
		Use:   "failures",
		Short: "What is in the dead-letter queues, decoded; `failures redrive` moves it back",
		Long: `failures reads the dead-letter queues of the create, disable and sync queues without
consuming them (each message is received hidden for a moment, then made visible
again) and groups them per SIM, kind, failed step and reason, with the attempts
made and when the first and last of them were dead-lettered.

Exit code 3 when a dead-letter queue holds messages.`,
		Example: `  simbridge failures
  simbridge failures --queue create -o json
  simbridge failures redrive 8988280666000000001
  simbridge failures redrive --all`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := connect(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return s.failures(cmd.Context(), queue)
		},
	}
	cmd.PersistentFlags().StringVar(&queue, "queue", "", "only this queue's DLQ: create, disable or sync")
	cmd.AddCommand(newRedriveCommand(o, &queue))
	return cmd
}

func (s *session) failures(ctx context.Context, only string) error {
	letters, err := s.deadLetters(ctx, only)
	if err != nil {
		return err
	}
	groups := groupFailures(letters)
	if len(letters) == 0 && s.opts.Output == FormatTable {
		fmt.Fprintln(s.out, "no messages in the dead-letter queues")
		return nil
	}
	w, err := newRowWriter(s.out, s.opts.Output, []column{{"queue", 7}, {"iccid", 22}, {"kind", 8}, {"step", 28},
		{"attempts", 8}, {"count", 5}, {"first_seen", 20}, {"last_seen", 20}, {"reason", 0}})
	if err != nil {
		return err
	}
	for _, g := range groups {
		cells := []string{queueRole(g.Queue), dash(g.ICCID), dash(g.Kind), g.Step, strconv.Itoa(g.Attempts), strconv.Itoa(g.Count),
			stamp(g.FirstSeen), stamp(g.LastSeen), g.Reason}
		if err := w.Row(cells, g); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	if len(letters) > 0 {
		if s.opts.Output == FormatTable {
			fmt.Fprintf(s.out, "\n%d messages; after fixing the cause: simbridge failures redrive ICCID… (or --all)\n", len(letters))
		}
		return attention("")
	}
	return nil
}

// deadLetters peeks every DLQ of the environment (or only's).
func (s *session) deadLetters(ctx context.Context, only string) ([]DeadLetter, error) {
	pairs, err := s.queuePairs(ctx, only)
	if err != nil {
		return nil, err
	}
	total := 0
	for _, q := range pairs {
		n, err := s.approxDepth(ctx, q.dlqURL)
		if err != nil {
			return nil, err
		}
		total += n
	}
	bar := newProgress(s.errOut, s.opts.Progress, int64(total), "reading dead-letter queues", "messages")
	defer bar.Finish()
	var out []DeadLetter
	for _, q := range pairs {
		got, err := s.peek(ctx, q, bar)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

func groupFailures(letters []DeadLetter) []FailureGroup {
	idx := map[string]*FailureGroup{}
	var keys []string
	for _, d := range letters {
		class, _, _ := strings.Cut(d.Reason, ":")
		key := strings.Join([]string{d.Queue, d.ICCID, d.Kind, d.Step, class}, "|")
		g, ok := idx[key]
		if !ok {
			g = &FailureGroup{Queue: d.Queue, ICCID: d.ICCID, Kind: d.Kind, Step: d.Step, FirstSeen: d.SentAt}
			idx[key] = g
			keys = append(keys, key)
		}
		g.Count++
		g.Attempts = max(g.Attempts, d.Attempts)
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

// queueRole is the short name of a DLQ for tables (create, disable, sync).
func queueRole(dlq string) string {
	for _, r := range []string{"create", "disable", "sync"} {
		if strings.Contains(dlq, "-"+r+"-dlq") || strings.Contains(dlq, "-sims-"+r+"-dlq") || strings.Contains(dlq, r+"-requests-dlq") {
			return r
		}
	}
	return dlq
}
