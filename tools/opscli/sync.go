package opscli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
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

// targetedSummary is the part of a targeted sync's summary simbridge
// reads: what happened (or would happen) to each SIM.
type targetedSummary struct {
	DryRun bool                `json:"dry_run"`
	SIMs   []events.SIMOutcome `json:"sims"`
	Error  string              `json:"error"`
}

func newSyncCommand(o *Options) *cobra.Command {
	var (
		force  bool
		noWait bool
		dryRun bool
		follow string
	)
	cmd := &cobra.Command{
		Use:   "sync [ICCID...]",
		Short: "Ask sim-poller for a sync now (all SIMs, or the given ones) and print its result",
		Long: `sync sends a sync request to sim-poller's request queue (the message bus, so it
works from a laptop and in AWS without network access to the task) and waits for
the run's result, which sim-poller stores in the lease table.

Without ICCIDs it is a full sync of the 1NCE inventory; with ICCIDs only those SIMs
are looked up (1NCE's single-SIM endpoint) and brought in line by the full sync's
rules, with every other SIM holding their IPs. --force lets a full sync disable more
SIMs than the mass-disable guard allows. --dry-run asks what the sync would do and
publishes nothing. A request's id (printed when it is sent) can be followed later
with --follow.

Exit code 1 when the run failed or a named SIM was skipped or could not be looked
up (the rules refused it: no or invalid IP, IP conflict), 4 when no result came
within --timeout (the request may still run: follow it with --follow).`,
		Example: `  simbridge sync
  simbridge sync 8988280666000000001 8988280666000000002
  simbridge sync --dry-run 8988280666000000001
  simbridge sync --follow op-20261201T101500-4f2a9c1b0e77
  simbridge sync --force --timeout 45m`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireICCIDs(args); err != nil {
				return err
			}
			if force && (len(args) > 0 || dryRun) {
				return usageError("--force applies to full syncs only")
			}
			if follow != "" && (len(args) > 0 || force || dryRun || noWait) {
				return usageError("--follow takes no ICCIDs or other sync flags")
			}
			s, err := connect(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			id := follow
			if id == "" {
				if id, err = s.requestSync(ctx, args, force, dryRun); err != nil {
					return err
				}
				if noWait {
					return s.printSyncSent(id)
				}
				fmt.Fprintf(s.errOut, "sync request %s sent; follow it later with: simbridge sync --follow %s\n", id, id)
			}
			res, err := s.awaitSync(ctx, id, 0)
			if err != nil {
				return err
			}
			return s.printSync(res)
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "override the mass-disable guard (full sync only)")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "send the request and print its id only")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "what the sync would do; nothing is published")
	cmd.Flags().StringVar(&follow, "follow", "", "wait for the result of a request sent before (its id)")
	return withTimeout(cmd, 35*time.Minute)
}

// newID is a unique id for a request or command: op-<time>-<random>.
func newID(now time.Time) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "op-" + now.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b)
}

// requestSync sends one SyncRequest for the SIMs (all when none).
func (s *session) requestSync(ctx context.Context, iccids []string, force, dryRun bool) (string, error) {
	who, err := s.identity(ctx)
	if err != nil {
		return "", err
	}
	req := events.SyncRequest{ID: newID(s.now()), ICCIDs: iccids, Force: force, DryRun: dryRun, Source: events.SourceOperator,
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
		MessageGroupId: aws.String(req.GroupID()), MessageDeduplicationId: aws.String(req.ID)})
	if err != nil {
		return "", fmt.Errorf("send sync request: %w", err)
	}
	return req.ID, nil
}

// pickupWait is how long a request may wait in sim-poller's queue before
// simbridge says that sim-poller does not seem to be consuming it.
const pickupWait = 15 * time.Second

// awaitSync polls the lease table for the request's result until it
// comes, limit passes (0: until the command's deadline) or the command is
// interrupted; both of those say the request may still run and how to
// follow it.
func (s *session) awaitSync(ctx context.Context, id string, limit time.Duration) (SyncResult, error) {
	wctx := ctx
	if limit > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	bar := newProgress(s.errOut, s.opts.Progress, -1, "waiting for sim-poller ("+id+")", "s")
	defer bar.Finish()
	start := s.now()
	warned := false
	poll := 200 * time.Millisecond // a lookup is answered within a second or two
	for {
		res, ok, err := s.syncResult(wctx, id)
		if err != nil && wctx.Err() == nil {
			return res, err
		}
		if ok {
			return res, nil
		}
		if !warned && s.now().Sub(start) > pickupWait {
			warned = true
			if waiting := s.waitingRequests(wctx); waiting > 0 {
				fmt.Fprintf(s.errOut, "note: %d request(s) still wait in %s after %v: is sim-poller running? (simbridge failures --queue sync)\n",
					waiting, s.names.SyncQueue(), pickupWait)
			}
		}
		if err := (simrec.SystemClock{}).Sleep(wctx, poll); err != nil {
			follow := fmt.Sprintf("sync request %s was sent and may still run: simbridge sync --follow %s", id, id)
			switch {
			case ctx.Err() != nil && errors.Is(context.Cause(ctx), errDeadline):
				return res, timedOut("no result after --timeout %v; %s", s.opts.deadline, follow)
			case ctx.Err() != nil:
				return res, fmt.Errorf("interrupted; %s: %w", follow, ctx.Err())
			default:
				return res, timedOut("no result within %v; %s", limit, follow)
			}
		}
		poll = min(2*poll, time.Second)
		bar.Describe(fmt.Sprintf("waiting for sim-poller (%s, %s)", id, s.now().Sub(start).Round(time.Second)))
		bar.Add(1)
	}
}

// waitingRequests is how many requests wait, not yet picked up, in
// sim-poller's queue.
func (s *session) waitingRequests(ctx context.Context) int {
	url, err := s.queueURL(ctx, s.names.SyncQueue())
	if err != nil {
		return 0
	}
	c, err := s.queueCounts(ctx, url)
	if err != nil {
		return 0
	}
	return c.Visible
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
	fmt.Fprintf(s.out, "sync request %s sent; follow it with: simbridge sync --follow %s\n", id, id)
	return nil
}

// printSync prints the result; a failed run, or a named SIM the rules
// skipped or that could not be looked up, ends with ExitError.
func (s *session) printSync(res SyncResult) error {
	var sum targetedSummary
	_ = json.Unmarshal(res.Summary, &sum)
	if s.opts.Output == FormatJSON {
		if err := writeJSON(s.out, res); err != nil {
			return err
		}
	} else {
		verb := "sync"
		if sum.DryRun {
			verb = "dry run of sync"
		}
		fmt.Fprintf(s.out, "%s %s %s at %s\n", verb, res.RequestID, res.Status, dash(res.FinishedAt))
		printSummary(s, res.Summary)
	}
	if res.Status != "done" {
		return fmt.Errorf("sync request %s %s", res.RequestID, res.Status)
	}
	var refused []string
	for _, o := range sum.SIMs {
		if o.Outcome == events.OutcomeSkipped || o.Outcome == events.OutcomeFailed {
			refused = append(refused, fmt.Sprintf("%s %s: %s", o.ICCID, o.Outcome, o.Reason))
		}
	}
	if len(refused) > 0 {
		return fmt.Errorf("%d SIM(s) not brought in line: %s", len(refused), strings.Join(refused, "; "))
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
		if k == "sims" {
			continue
		}
		v, _ := json.Marshal(m[k])
		fmt.Fprintf(s.out, "  %-24s %s\n", k+":", strings.Trim(string(v), `"`))
	}
	var sum targetedSummary
	if json.Unmarshal(raw, &sum) == nil {
		for _, o := range sum.SIMs {
			fmt.Fprintf(s.out, "  %-22s %-9s %s\n", o.ICCID, o.Outcome, o.Reason)
		}
	}
}
