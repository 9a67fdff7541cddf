package opscli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/simbridge/simbridge/libs/events"
)

// FixResult is what one repair did.
type FixResult struct {
	Fix     string   `json:"fix"`
	ICCIDs  []string `json:"iccids"`
	Outcome string   `json:"outcome"`
	Message string   `json:"message"`
}

// fixWorkers bounds commands awaited at once: each is one SIM's FIFO group,
// so they run in parallel in the provisioner and deactivator.
const fixWorkers = 8

// repair sends the command each finding names: one per SIM and fix (a SIM
// with several findings gets its strongest fix once), and one sync request
// for every SIM whose fix is to compare it with 1NCE again. Each command is
// planned against the record as it is now, as `reissue`/`revoke`/`enable`
// would, so a finding that is gone meanwhile sends nothing. More SIMs than
// the cap are refused without --force; the plan is shown and confirmed.
func (s *session) repair(ctx context.Context, findings []Finding, f auditFlags, records int) ([]FixResult, error) {
	perSIM := map[string]string{}
	rank := map[string]int{FixSync: 1, FixEnable: 2, FixReissue: 3, FixRevoke: 4}
	for _, fd := range findings {
		if fd.Fix == FixNone || fd.ICCID == "" {
			continue
		}
		if rank[fd.Fix] > rank[perSIM[fd.ICCID]] {
			perSIM[fd.ICCID] = fd.Fix
		}
	}
	var syncIDs []string
	var cmds []struct{ iccid, fix string }
	for id, fix := range perSIM {
		if fix == FixSync {
			syncIDs = append(syncIDs, id)
		} else {
			cmds = append(cmds, struct{ iccid, fix string }{id, fix})
		}
	}
	sort.Strings(syncIDs)
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].iccid < cmds[j].iccid })
	limit := f.maxChanges
	if limit <= 0 {
		limit = max(defaultFixCap, records/10)
	}
	p := Plan{Change: fmt.Sprintf("repair %d SIM(s) through commands", len(perSIM))}
	for _, c := range cmds {
		p.Steps = append(p.Steps, PlannedStep{Action: c.fix, Target: c.iccid, Detail: "to " + queueOf(s, fixKind(c.fix))})
	}
	for _, id := range syncIDs {
		p.Steps = append(p.Steps, PlannedStep{Action: FixSync, Target: id, Detail: "sync request to " + s.names.SyncQueue()})
	}
	if len(perSIM) > limit && !f.force {
		p.Notes = append(p.Notes, fmt.Sprintf("refused: %d SIMs, more than the cap of %d (--max-changes); narrow with --kind/--iccid, or --force", len(perSIM), limit))
		if f.change.dryRun {
			_, _ = s.approve(ctx, f.change, p)
		}
		return nil, fmt.Errorf("audit --fix would change %d SIMs, more than the cap of %d: narrow it with --kind or --iccid, raise --max-changes, or --force", len(perSIM), limit)
	}
	ok, err := s.approve(ctx, f.change, p)
	if err != nil || !ok {
		return []FixResult{}, err
	}
	var results []FixResult
	var mu sync.Mutex
	bar := newProgress(s.errOut, s.opts.Progress, int64(len(cmds)+len(syncIDs)), "repairing through commands", "SIMs")
	defer bar.Finish()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fixWorkers)
	for _, c := range cmds {
		g.Go(func() error {
			out, err := s.fixOne(gctx, opKind(c.fix), c.iccid)
			if err != nil && isCanceled(gctx, err) {
				return err
			}
			mu.Lock()
			results = append(results, FixResult{Fix: c.fix, ICCIDs: []string{c.iccid}, Outcome: out.Outcome, Message: out.Message})
			mu.Unlock()
			bar.Add(1)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return results, err
	}
	for i := 0; i < len(syncIDs); i += events.MaxSyncICCIDs {
		batch := syncIDs[i:min(i+events.MaxSyncICCIDs, len(syncIDs))]
		r := FixResult{Fix: FixSync, ICCIDs: batch}
		id, err := s.requestSync(ctx, batch, false, false)
		if err == nil {
			var res SyncResult
			res, err = s.awaitSync(ctx, id, 0)
			r.Outcome, r.Message = res.Status, fmt.Sprintf("sync request %s: %s", id, res.Status)
		}
		if err != nil {
			if isCanceled(ctx, err) {
				return results, err
			}
			r.Outcome, r.Message = "failed", err.Error()
			var ee *exitError
			if errors.As(err, &ee) && ee.code == ExitTimeout {
				r.Outcome = "timeout"
			}
		}
		results = append(results, r)
		bar.Add(len(batch))
	}
	sort.SliceStable(results, func(i, j int) bool { return results[i].ICCIDs[0] < results[j].ICCIDs[0] })
	return results, nil
}

// defaultFixCap is the least --max-changes (like sim-poller's
// DISABLE_ALLOWANCE: a small fleet can always be repaired).
const defaultFixCap = 10

// fixKind is the command kind a fix sends.
func fixKind(fix string) events.Kind {
	switch fix {
	case FixRevoke:
		return events.KindRevoke
	case FixReissue:
		return events.KindReissue
	}
	return events.KindCreate
}

// fixOne runs one certificate command to its outcome, without the failure
// topic watch (a timeout reports it instead).
func (s *session) fixOne(ctx context.Context, kind opKind, iccid string) (CommandOutcome, error) {
	for try := 0; try < 2; try++ {
		cmd, noop, err := s.plan(ctx, kind, iccid, "audit --fix")
		if noop != "" {
			return CommandOutcome{Outcome: "noop", Message: noop}, nil
		}
		if err != nil {
			return CommandOutcome{Outcome: "refused", Message: err.Error()}, err
		}
		if err := s.sendCommand(ctx, cmd); err != nil {
			return CommandOutcome{Outcome: "failed", Message: err.Error()}, err
		}
		out, err := s.await(ctx, cmd, nil)
		if errors.Is(err, errStale) {
			continue
		}
		if err != nil && ctx.Err() != nil {
			return s.sentButStopped(ctx, out, cmd)
		}
		if err != nil {
			out.Outcome, out.Message = outcomeName(err), err.Error()
		}
		return out, err
	}
	return CommandOutcome{Outcome: "failed", Message: "stale twice: the SIM keeps changing"}, nil
}

func outcomeName(err error) string {
	var ee *exitError
	if errors.As(err, &ee) && ee.code == ExitTimeout {
		return "timeout"
	}
	return "failed"
}
