package opscli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simip"
	"github.com/simbridge/simbridge/libs/simrec"
)

// opKind is an operator's certificate command.
type opKind string

const (
	kindReissue opKind = "reissue"
	kindRevoke  opKind = "revoke"
	kindEnable  opKind = "enable"
)

var opHelp = map[opKind]struct{ short, long, example string }{
	kindReissue: {
		short: "Replace an active SIM's key and certificate (suspected leak); the old one is REVOKED",
		long: `reissue sends a reissue command to the provisioner: a fresh key and certificate are
issued and made ACTIVE, the record switches to them in one write, then the old
certificate is REVOKED and detached. The device fetches the new credentials on its
next onboarding call. Only an active SIM is reissued. A SIM in key mode device has
no key made here: its certificate is REVOKED and detached, and the device must
enrol again (POST /device-api/certificate with a new key) to get a new one.`,
		example: `  simbridge reissue 8988280666000000001 --reason "key found in a support ticket" --dry-run
  simbridge reissue 8988280666000000001 --reason "key found in a support ticket"`,
	},
	kindRevoke: {
		short: "Take a SIM's access away for good: its certificate is REVOKED, never reactivated",
		long: `revoke sends a revoke command to the deactivator: the SIM's certificate is set
REVOKED (IoT Core never lets it be activated again) and the record says revoked.
sim-poller holds a revoked SIM as it is; 'simbridge enable' issues a fresh
certificate when the SIM should work again.`,
		example: `  simbridge revoke 8988280666000000001 --reason "device stolen" --dry-run
  simbridge revoke -f stolen.txt --reason "batch lost in transit" --yes`,
	},
	kindEnable: {
		short: "Enable a SIM again (e.g. a revoked one) with a fresh certificate and its IP from 1NCE",
		long: `enable asks sim-poller what 1NCE holds for the SIM and sends a create command with
its IP to the provisioner: a revoked SIM gets a fresh certificate, a disabled one its
certificate back, a SIM without a record its first one. The full sync's rules decide:
1NCE must list the SIM as Enabled with a valid IP that no other SIM holds (an IP
conflict, checked against every SIM holding the IP, gives neither credentials);
otherwise enable refuses, as sim-poller would disable it again at its next run.`,
		example: `  simbridge enable 8988280666000000001 --dry-run
  simbridge enable 8988280666000000001`,
	},
}

// CommandOutcome is what a certificate command ended with (-o json).
type CommandOutcome struct {
	ICCID         string  `json:"iccid"`
	Kind          string  `json:"kind"`
	CommandID     string  `json:"command_id,omitempty"`
	RequestedBy   string  `json:"requested_by,omitempty"`
	Outcome       string  `json:"outcome"` // done, noop, refused, failed, sent, timeout, interrupted
	Message       string  `json:"message"`
	State         string  `json:"state,omitempty"`
	CertificateID string  `json:"certificate_id,omitempty"`
	Version       int64   `json:"version,omitempty"`
	Seconds       float64 `json:"seconds"`
}

// opWorkers bounds the SIMs of one bulk command at work at once: each is
// one SIM's FIFO group, so they run in parallel in the services.
const opWorkers = 8

func newCommandCommand(o *Options, kind opKind) *cobra.Command {
	var (
		reason string
		noWait bool
	)
	h := opHelp[kind]
	var change *changeFlags
	var bulk *bulkFlag
	cmd := &cobra.Command{
		Use:   string(kind) + " ICCID|IP... [-f FILE]",
		Short: h.short,
		Long: h.long + `

The command is computed against the record's current version and carries a unique
id and your IAM identity. On a terminal simbridge shows the planned commands and asks;
--yes confirms for scripts, --dry-run prints the plan and sends nothing. It then waits
until the record shows each command carried out, or a refusal arrives on the failure
topic, and retries once if the record changed before the command ran. Several SIMs
(arguments, or -f FILE with one ICCID or IP a line) are planned and confirmed
together. Ctrl-C or --timeout after a command was sent says so: it may still run.
Exit code 1 when a command was refused or failed, 4 on timeout.`,
		Example: h.example,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && bulk.file == "" {
				return usageError("%s takes ICCIDs or IPs, or -f FILE", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			targets, err := bulk.targets(args, o.in)
			if err != nil {
				return err
			}
			change.stdinTaken = bulk.stdin()
			s, err := connect(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return s.operateAll(cmd.Context(), kind, targets, reason, noWait, change)
		},
	}
	change = addChangeFlags(cmd)
	bulk = addBulkFlag(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit trail (logs and notifications)")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "send the commands and return")
	return withTimeout(cmd, 2*time.Minute)
}

// planned is one SIM's command as planned before confirmation.
type planned struct {
	iccid string
	cmd   events.SimCommand
	// outcome is set when nothing will be sent (noop, refused, not found).
	outcome *CommandOutcome
	err     error
}

// operateAll plans the command for every target, shows the plan and asks,
// then sends and awaits each.
func (s *session) operateAll(ctx context.Context, kind opKind, targets []string, reason string, noWait bool, change *changeFlags) error {
	plans := s.planAll(ctx, kind, targets, reason)
	p := Plan{Change: fmt.Sprintf("%s %d SIM(s)", kind, len(plans))}
	var refusals []error
	for _, pl := range plans {
		switch {
		case pl.outcome == nil:
			p.Steps = append(p.Steps, PlannedStep{Action: string(pl.cmd.Kind), Target: pl.iccid, Detail: s.describeCommand(pl.cmd)})
		default:
			p.Notes = append(p.Notes, fmt.Sprintf("%s %s: %s — %s", kind, pl.iccid, pl.outcome.Outcome, pl.outcome.Message))
			if pl.err != nil {
				refusals = append(refusals, pl.err)
			}
		}
	}
	p.Change = fmt.Sprintf("%s %d SIM(s)", kind, len(p.Steps))
	ok, err := s.approve(ctx, change, p)
	if err != nil {
		return err
	}
	var outcomes []CommandOutcome
	var errs []error
	if ok {
		outcomes, errs = s.carryOut(ctx, kind, plans, reason, noWait)
	}
	if change.dryRun {
		return worst(refusals)
	}
	for _, pl := range plans {
		if pl.outcome != nil {
			outcomes = append(outcomes, *pl.outcome)
		}
	}
	if err := s.printOutcomes(outcomes, len(targets) == 1); err != nil {
		return err
	}
	return worst(append(refusals, errs...))
}

// planAll plans each target's command (an IP resolved to its SIM). An
// enable asks sim-poller about all the SIMs in one lookup first.
func (s *session) planAll(ctx context.Context, kind opKind, targets []string, reason string) []planned {
	if kind == kindEnable {
		var ids []string
		for _, t := range targets {
			if validICCID(t) {
				ids = append(ids, t)
			}
		}
		if len(ids) > 1 {
			if answers, err := s.lookup(ctx, ids, 0); err == nil {
				s.onceAnswers = answers
			}
		}
	}
	out := make([]planned, len(targets))
	var g errgroup.Group
	g.SetLimit(opWorkers)
	for i, t := range targets {
		g.Go(func() error {
			p := planned{iccid: t}
			iccid, err := s.iccidOf(ctx, t)
			if err == nil {
				p.iccid = iccid
				var noop string
				p.cmd, noop, err = s.plan(ctx, kind, iccid, reason)
				if noop != "" {
					p.outcome = &CommandOutcome{ICCID: iccid, Kind: string(kind), Outcome: "noop", Message: noop}
				}
			}
			if err != nil {
				p.err = err
				p.outcome = &CommandOutcome{ICCID: p.iccid, Kind: string(kind), Outcome: "refused", Message: err.Error()}
			}
			out[i] = p
			return nil
		})
	}
	_ = g.Wait()
	return out
}

// describeCommand says where a planned command goes and what it was
// computed against, for the plan.
func (s *session) describeCommand(c events.SimCommand) string {
	d := fmt.Sprintf("to %s, against record version %d", queueOf(s, c.Kind), c.BaseVersion)
	if c.BaseVersion == 0 {
		d = fmt.Sprintf("to %s, no record yet", queueOf(s, c.Kind))
	}
	if c.IP != "" {
		d += ", IP " + c.IP
	}
	return d
}

// carryOut sends and awaits the planned commands, a few SIMs at a time.
func (s *session) carryOut(ctx context.Context, kind opKind, plans []planned, reason string, noWait bool) ([]CommandOutcome, []error) {
	var watch *failureWatch
	if !noWait {
		watch = s.watchFailures(ctx)
		defer watch.close()
	}
	var mu sync.Mutex
	var outcomes []CommandOutcome
	var errs []error
	var g errgroup.Group
	g.SetLimit(opWorkers)
	for _, pl := range plans {
		if pl.outcome != nil {
			continue
		}
		g.Go(func() error {
			out, err := s.operate(ctx, kind, pl.iccid, reason, noWait, watch, &pl.cmd)
			mu.Lock()
			defer mu.Unlock()
			outcomes = append(outcomes, out)
			if err != nil {
				errs = append(errs, err)
			}
			return nil
		})
	}
	_ = g.Wait()
	return outcomes, errs
}

// operate sends the command (first, as planned and confirmed) and waits
// for the outcome; a command that went stale before it ran is planned and
// sent once more against the fresh record.
func (s *session) operate(ctx context.Context, kind opKind, iccid, reason string, noWait bool, watch *failureWatch, first *events.SimCommand) (CommandOutcome, error) {
	start := s.now()
	out := CommandOutcome{ICCID: iccid, Kind: string(kind)}
	for try := 0; try < 2; try++ {
		cmd := *first
		if try > 0 {
			var noop string
			var err error
			cmd, noop, err = s.plan(ctx, kind, iccid, reason)
			if err != nil || noop != "" {
				out.Outcome, out.Message = "noop", noop
				if err != nil {
					out.Outcome, out.Message = "refused", err.Error()
				}
				out.Seconds = s.now().Sub(start).Seconds()
				return out, err
			}
		}
		out.CommandID, out.RequestedBy = cmd.ID, cmd.RequestedBy
		if err := s.sendCommand(ctx, cmd); err != nil {
			out.Outcome, out.Message = "failed", err.Error()
			return out, err
		}
		if noWait {
			out.Outcome, out.Message = "sent", "sent to "+queueOf(s, cmd.Kind)
			return out, nil
		}
		res, err := s.await(ctx, cmd, watch)
		out.Seconds = s.now().Sub(start).Seconds()
		if errors.Is(err, errStale) && try == 0 {
			fmt.Fprintf(s.errOut, "the record changed before %s ran (it was ignored as stale); computing it again\n", cmd.ID)
			continue
		}
		res.ICCID, res.Kind, res.CommandID, res.RequestedBy, res.Seconds = out.ICCID, out.Kind, out.CommandID, out.RequestedBy, out.Seconds
		if err != nil && ctx.Err() != nil {
			return s.sentButStopped(ctx, res, cmd)
		}
		return res, err
	}
	return out, errors.New("unreachable")
}

// sentButStopped is the outcome of a command that was sent when Ctrl-C or
// the deadline stopped the wait: it may still run, and this says how to
// follow it.
func (s *session) sentButStopped(ctx context.Context, res CommandOutcome, cmd events.SimCommand) (CommandOutcome, error) {
	follow := fmt.Sprintf("%s %s was sent (command %s) and may still run: simbridge status %s", cmd.Kind, cmd.ICCID, cmd.ID, cmd.ICCID)
	res.Message = follow
	if errors.Is(context.Cause(ctx), errDeadline) {
		res.Outcome = "timeout"
		return res, timedOut("--timeout %v passed; %s", s.opts.deadline, follow)
	}
	res.Outcome = "interrupted"
	return res, fmt.Errorf("interrupted; %s: %w", follow, ctx.Err())
}

// plan computes the command against the record as it is now. It refuses
// what the services would refuse (with the reason) and says when there is
// nothing to do (noop).
func (s *session) plan(ctx context.Context, kind opKind, iccid, reason string) (cmd events.SimCommand, noop string, err error) {
	rec, err := s.store.Get(ctx, iccid)
	exists := err == nil
	if err != nil && !errors.Is(err, simrec.ErrNotFound) {
		return cmd, "", err
	}
	who, err := s.identity(ctx)
	if err != nil {
		return cmd, "", err
	}
	cmd = events.SimCommand{ICCID: iccid, IP: rec.IP, BaseVersion: rec.Version, BaseCommand: rec.LastCommand,
		ObservedAt: s.now().UTC(), ID: newID(s.now()), RequestedBy: who, Reason: "operator " + string(kind)}
	if reason != "" {
		cmd.Reason += ": " + reason
	}
	switch kind {
	case kindReissue:
		cmd.Kind = events.KindReissue
		switch {
		case !exists:
			return cmd, "", attention("SIM %s has no record: nothing to reissue", iccid)
		case rec.CurrentState() != simrec.StateActive:
			return cmd, "", fmt.Errorf("SIM %s is %s: only an active SIM's certificate is reissued (simbridge enable %s first)", iccid, rec.CurrentState(), iccid)
		case rec.KeyMode == simrec.KeyModeDevice:
			fmt.Fprintf(s.errOut, "SIM %s is in key mode device: no key is made here. Its certificate will be REVOKED and its device\n"+
				"must enrol again (POST /device-api/certificate with a new key) before it can connect.\n", iccid)
		}
	case kindRevoke:
		cmd.Kind = events.KindRevoke
		switch {
		case !exists:
			return cmd, "", attention("SIM %s has no record: nothing to revoke", iccid)
		case rec.CurrentState() == simrec.StateRevoked && rec.Next == nil:
			return cmd, fmt.Sprintf("SIM %s is revoked already", iccid), nil
		}
	case kindEnable:
		cmd.Kind, cmd.Status = events.KindCreate, simrec.OnceEnabled
		o, err := s.enableable(ctx, iccid)
		if err != nil {
			return cmd, "", err
		}
		ip, _ := simip.Normalize(o.IP)
		cmd.IP, cmd.IMSI, cmd.MSISDN, cmd.Label = ip, o.IMSI, o.MSISDN, o.Label
		if exists && rec.CurrentState() == simrec.StateActive && rec.IP == ip && rec.Next == nil && len(rec.Retiring) == 0 && rec.ClaimedBy == "" {
			return cmd, fmt.Sprintf("SIM %s is active at %s already", iccid, ip), nil
		}
	}
	return cmd, "", cmd.Validate()
}

// enableable asks sim-poller what 1NCE holds for the SIM and what the full
// sync's rules say (lookup.go): enable must not give credentials the rules
// withhold (sim-poller would take them away again, and an IP conflict
// would cost the device at that IP its credentials now).
func (s *session) enableable(ctx context.Context, iccid string) (events.SIMOutcome, error) {
	o, ok := s.onceAnswers[iccid]
	if !ok {
		answers, err := s.lookup(ctx, []string{iccid}, 0)
		if err != nil {
			return events.SIMOutcome{}, fmt.Errorf("enable needs what 1NCE holds for the SIM: %w", err)
		}
		o = answers[iccid]
	}
	switch {
	case o.Outcome == events.OutcomeFailed:
		return o, fmt.Errorf("1NCE could not be asked about SIM %s: %s", iccid, o.Reason)
	case !o.Found:
		return o, attention("1NCE does not hold SIM %s", iccid)
	case o.Status != simrec.OnceEnabled:
		return o, fmt.Errorf("1NCE lists SIM %s as %s: enable it in 1NCE first (sim-poller would disable it again)", iccid, o.Status)
	case o.Problem != "":
		return o, fmt.Errorf("refused by the full sync's rules: %s (sim-poller would not give SIM %s credentials either)", o.Reason, iccid)
	}
	return o, nil
}

func queueOf(s *session, k events.Kind) string {
	if k.Queue() == events.DisableQueue {
		return s.names.DisableQueue()
	}
	return s.names.CreateQueue()
}

// sendCommand puts the command on its consumer's FIFO queue, grouped by
// ICCID like sim-poller's.
func (s *session) sendCommand(ctx context.Context, cmd events.SimCommand) error {
	body, err := cmd.Encode()
	if err != nil {
		return err
	}
	url, err := s.queueURL(ctx, queueOf(s, cmd.Kind))
	if err != nil {
		return err
	}
	_, err = s.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(string(body)),
		MessageGroupId: aws.String(cmd.ICCID), MessageDeduplicationId: aws.String(cmd.DeduplicationID())})
	if err != nil {
		return fmt.Errorf("send %s command: %w", cmd.Kind, err)
	}
	return nil
}

var errStale = errors.New("command stale")

// await watches the record until it shows the command carried out (its id
// is the last command and no claim is left), a refusal or dead letter is
// announced on the failure topic, or the command can no longer be admitted
// (the record moved on without it: stale). The command's deadline ends it.
func (s *session) await(ctx context.Context, cmd events.SimCommand, watch *failureWatch) (CommandOutcome, error) {
	bar := newProgress(s.errOut, s.opts.Progress, -1, fmt.Sprintf("waiting for %s %s", cmd.Kind, cmd.ICCID), "checks")
	defer bar.Finish()
	lastAttempts := 0
	var rec simrec.Record
	for {
		var err error
		rec, err = s.store.Get(ctx, cmd.ICCID)
		if ctx.Err() != nil {
			return outcomeOf(rec, "timeout", "no outcome yet"), ctx.Err()
		}
		if err != nil && !errors.Is(err, simrec.ErrNotFound) {
			return CommandOutcome{}, err
		}
		found := err == nil
		switch {
		case found && rec.LastCommand == cmd.ID && rec.ClaimedBy == "":
			return outcomeOf(rec, "done", fmt.Sprintf("%s carried out", cmd.Kind)), nil
		case found && rec.LastCommand == cmd.ID:
			bar.Describe(fmt.Sprintf("%s %s at work", cmd.Kind, cmd.ICCID))
		case found && reached(cmd, rec) && rec.ClaimedBy == "":
			return outcomeOf(rec, "done", fmt.Sprintf("the SIM is as asked (by %s)", dash(rec.LastCommand))), nil
		case found && !rec.Admits(cmd.ID, cmd.BaseVersion, cmd.BaseCommand):
			return CommandOutcome{}, errStale
		}
		if f := rec.LastFailure; found && f != nil && f.Command == cmd.ID && f.Attempts != lastAttempts {
			lastAttempts = f.Attempts
			fmt.Fprintf(s.errOut, "attempt %d failed at step %q: %s; the queue brings it back\n", f.Attempts, f.Step, f.Reason)
		}
		if watch != nil {
			msg, err := watch.next(ctx, cmd.ICCID)
			if err != nil {
				if ctx.Err() != nil {
					return outcomeOf(rec, "timeout", "no outcome yet"), ctx.Err()
				}
				return CommandOutcome{}, err
			}
			if msg != "" && announces(msg, cmd.Kind) {
				outcome := "failed"
				if strings.Contains(msg, "refused") {
					outcome = "refused"
				}
				return outcomeOf(rec, outcome, msg), errors.New(msg)
			}
		} else if err := (simrec.SystemClock{}).Sleep(ctx, 500*time.Millisecond); err != nil {
			return outcomeOf(rec, "timeout", "no outcome yet"), err
		}
		bar.Add(1)
	}
}

// reached reports whether the record already is what the command asks,
// whoever did it (a command the base command was still finishing).
func reached(cmd events.SimCommand, r simrec.Record) bool {
	settled := r.Next == nil && len(r.Retiring) == 0
	switch cmd.Kind {
	case events.KindRevoke:
		return settled && r.CurrentState() == simrec.StateRevoked
	case events.KindCreate:
		return settled && r.CurrentState() == simrec.StateActive && r.IP == cmd.IP
	}
	return false
}

// announces reports whether a failure notification is about a command of
// this kind ("SIM reissue refused: …", "SIM revoke failed at step …").
func announces(msg string, kind events.Kind) bool {
	return strings.Contains(msg, "SIM "+string(kind)+" ") || strings.Contains(msg, "Malformed message")
}

func outcomeOf(r simrec.Record, outcome, msg string) CommandOutcome {
	o := CommandOutcome{Outcome: outcome, Message: msg, Version: r.Version, CertificateID: r.CertificateID()}
	if r.ICCID != "" {
		o.State = string(r.CurrentState())
	}
	return o
}

// printOutcomes prints each SIM's outcome (-o json: one object for a
// single SIM, else an array).
func (s *session) printOutcomes(outs []CommandOutcome, single bool) error {
	if s.opts.Output == FormatJSON {
		if single && len(outs) == 1 {
			return writeJSON(s.out, outs[0])
		}
		if outs == nil {
			outs = []CommandOutcome{}
		}
		return writeJSON(s.out, outs)
	}
	for _, o := range outs {
		fmt.Fprintf(s.out, "%s %s: %s — %s", o.Kind, o.ICCID, o.Outcome, o.Message)
		if o.State != "" {
			fmt.Fprintf(s.out, "; state %s, certificate %s, version %d", o.State, short(o.CertificateID), o.Version)
		}
		if o.CommandID != "" {
			fmt.Fprintf(s.out, " (command %s, %.1fs)", o.CommandID, o.Seconds)
		}
		fmt.Fprintln(s.out)
	}
	return nil
}

// worst is the error a bulk command ends with: a timeout or an interruption
// over a refusal over not-found, each SIM's message joined.
func worst(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	if len(errs) == 1 {
		return errs[0]
	}
	for _, err := range errs {
		if errors.Is(err, context.Canceled) {
			return errors.Join(errs...) // interrupted: exit 130
		}
	}
	code := ExitAttention
	var msgs []string
	for _, err := range errs {
		msgs = append(msgs, err.Error())
		var ee *exitError
		c := ExitError
		if errors.As(err, &ee) {
			c = ee.code
		}
		if rank(c) > rank(code) {
			code = c
		}
	}
	return &exitError{code: code, msg: strings.Join(msgs, "; ")}
}

func rank(code int) int {
	switch code {
	case ExitAttention:
		return 1
	case ExitError:
		return 2
	case ExitTimeout:
		return 3
	}
	return 0
}
