package opscli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/spf13/cobra"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simrec"
)

// SyncResult is the outcome sim-poller stored for a sync request.
type SyncResult struct {
	RequestID  string          `json:"request_id"`
	Status     string          `json:"status"`
	FinishedAt string          `json:"finished_at,omitempty"`
	Summary    json.RawMessage `json:"summary,omitempty"`
}

func newSyncCommand(o *Options) *cobra.Command {
	var (
		force   bool
		timeout time.Duration
		noWait  bool
	)
	cmd := &cobra.Command{
		Use:   "sync [ICCID...]",
		Short: "Ask sim-poller for a sync now (all SIMs, or the given ones) and print its result",
		Long: `sync sends a sync request to sim-poller's request queue (the message bus, so it
works from a laptop and in AWS without network access to the task) and waits for
the run's result, which sim-poller stores in the lease table.

Without ICCIDs it is a full sync of the 1NCE inventory; with ICCIDs only those SIMs
are looked up (1NCE's single-SIM endpoint) and brought in line. --force lets a full
sync disable more SIMs than the mass-disable guard allows.

Exit code 1 when the run failed, 4 when no result came within --timeout.`,
		Example: `  simbridge sync
  simbridge sync 8988280666000000001 8988280666000000002
  simbridge sync --force --timeout 45m`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireICCIDs(args); err != nil {
				return err
			}
			if force && len(args) > 0 {
				return usageError("--force applies to full syncs only")
			}
			s, err := connect(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			id, err := s.requestSync(cmd.Context(), args, force)
			if err != nil {
				return err
			}
			if noWait {
				return s.printSyncSent(id)
			}
			res, err := s.awaitSync(cmd.Context(), id, timeout)
			if err != nil {
				return err
			}
			return s.printSync(res)
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "override the mass-disable guard (full sync only)")
	cmd.Flags().DurationVar(&timeout, "timeout", 35*time.Minute, "longest wait for the result (a full sync of 100,000 SIMs lists for 100 s at 1NCE's rate)")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "send the request and print its id only")
	return cmd
}

// newID is a unique id for a request or command: op-<time>-<random>.
func newID(now time.Time) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "op-" + now.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b)
}

// requestSync sends one SyncRequest for the SIMs (all when none).
func (s *session) requestSync(ctx context.Context, iccids []string, force bool) (string, error) {
	who, err := s.identity(ctx)
	if err != nil {
		return "", err
	}
	req := events.SyncRequest{ID: newID(s.now()), ICCIDs: iccids, Force: force, Source: events.SourceOperator,
		RequestedBy: who, RequestedAt: s.now().UTC()}
	if err := req.Validate(); err != nil {
		return "", usageError("%v", err)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	url, err := s.queueURL(ctx, s.names.SyncQueue())
	if err != nil {
		return "", fmt.Errorf("sim-poller's request queue: %w", err)
	}
	_, err = s.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(string(body)),
		MessageGroupId: aws.String(events.SourceOperator), MessageDeduplicationId: aws.String(req.ID)})
	if err != nil {
		return "", fmt.Errorf("send sync request: %w", err)
	}
	return req.ID, nil
}

// awaitSync polls the lease table for the request's result.
func (s *session) awaitSync(ctx context.Context, id string, timeout time.Duration) (SyncResult, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	bar := newProgress(s.errOut, s.opts.Progress, -1, "waiting for sim-poller ("+id+")", "s")
	defer bar.Finish()
	start := s.now()
	for {
		res, ok, err := s.syncResult(ctx, id)
		if err != nil && ctx.Err() == nil {
			return res, err
		}
		if ok {
			return res, nil
		}
		if err := (simrec.SystemClock{}).Sleep(ctx, time.Second); err != nil {
			if ctx.Err() == context.DeadlineExceeded {
				return res, timedOut("no result for sync request %s after %s; sim-poller may still run it (is it running? simbridge failures --queue sync)", id, timeout)
			}
			return res, err
		}
		bar.Describe(fmt.Sprintf("waiting for sim-poller (%s, %s)", id, s.now().Sub(start).Round(time.Second)))
		bar.Add(1)
	}
}

func (s *session) syncResult(ctx context.Context, id string) (SyncResult, bool, error) {
	out, err := s.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.names.Leases()), ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{"name": &ddbtypes.AttributeValueMemberS{Value: events.SyncResultKey(id)}}})
	if err != nil {
		return SyncResult{}, false, fmt.Errorf("read sync result: %w", err)
	}
	if out.Item == nil {
		return SyncResult{}, false, nil
	}
	res := SyncResult{RequestID: id, Status: str(out.Item["status"]), FinishedAt: str(out.Item["finished_at"])}
	if sum := str(out.Item["summary"]); sum != "" {
		if json.Valid([]byte(sum)) {
			res.Summary = json.RawMessage(sum)
		} else {
			res.Summary, _ = json.Marshal(sum)
		}
	}
	return res, true, nil
}

func str(av ddbtypes.AttributeValue) string {
	if s, ok := av.(*ddbtypes.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

func (s *session) printSyncSent(id string) error {
	if s.opts.Output == FormatJSON {
		return writeJSON(s.out, map[string]string{"request_id": id, "status": "sent"})
	}
	fmt.Fprintf(s.out, "sync request %s sent\n", id)
	return nil
}

func (s *session) printSync(res SyncResult) error {
	if s.opts.Output == FormatJSON {
		if err := writeJSON(s.out, res); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(s.out, "sync %s %s at %s\n", res.RequestID, res.Status, dash(res.FinishedAt))
		printSummary(s, res.Summary)
	}
	if res.Status != "done" {
		return fmt.Errorf("sync request %s %s", res.RequestID, res.Status)
	}
	return nil
}

// printSummary prints the run's summary object as "key: value" lines.
func printSummary(s *session, raw json.RawMessage) {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		if len(raw) > 0 {
			fmt.Fprintf(s.out, "  %s\n", raw)
		}
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, _ := json.Marshal(m[k])
		fmt.Fprintf(s.out, "  %-24s %s\n", k+":", strings.Trim(string(v), `"`))
	}
}
