package opscli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/spf13/cobra"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/onceapi"
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
		example: `  simbridge reissue 8988280666000000001 --reason "key found in a support ticket"`,
	},
	kindRevoke: {
		short: "Take a SIM's access away for good: its certificate is REVOKED, never reactivated",
		long: `revoke sends a revoke command to the deactivator: the SIM's certificate is set
REVOKED (IoT Core never lets it be activated again) and the record says revoked.
sim-poller holds a revoked SIM as it is; 'simbridge enable' issues a fresh
certificate when the SIM should work again.`,
		example: `  simbridge revoke 8988280666000000001 --reason "device stolen"`,
	},
	kindEnable: {
		short: "Enable a SIM again (e.g. a revoked one) with a fresh certificate and its IP from 1NCE",
		long: `enable reads the SIM from the 1NCE API and sends a create command with its IP to the
provisioner: a revoked SIM gets a fresh certificate, a disabled one its certificate
back, a SIM without a record its first one. 1NCE must list the SIM as Enabled with
an IP (otherwise sim-poller would disable it again at its next run).`,
		example: `  simbridge enable 8988280666000000001`,
	},
}

// CommandOutcome is what a certificate command ended with (-o json).
type CommandOutcome struct {
	ICCID         string  `json:"iccid"`
	Kind          string  `json:"kind"`
	CommandID     string  `json:"command_id,omitempty"`
	RequestedBy   string  `json:"requested_by,omitempty"`
	Outcome       string  `json:"outcome"` // done, noop, refused, failed, sent
	Message       string  `json:"message"`
	State         string  `json:"state,omitempty"`
	CertificateID string  `json:"certificate_id,omitempty"`
	Version       int64   `json:"version,omitempty"`
	Seconds       float64 `json:"seconds"`
}

func newCommandCommand(o *Options, kind opKind) *cobra.Command {
	var (
		reason  string
		timeout time.Duration
		noWait  bool
	)
	h := opHelp[kind]
	cmd := &cobra.Command{
		Use:     string(kind) + " ICCID",
		Short:   h.short,
		Long:    h.long + "\n\nThe command is computed against the record's current version and carries a unique\nid and your IAM identity; simbridge waits until the record shows it carried out,\nor a refusal arrives on the failure topic, and retries once if the record changed\nbefore the command ran. Exit code 1 when refused or failed, 4 on timeout.",
		Example: h.example,
		Args:    exactArgs(1, "one ICCID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireICCIDs(args); err != nil {
				return err
			}
			s, err := connect(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			out, err := s.operate(cmd.Context(), kind, args[0], reason, timeout, noWait)
			if perr := s.printOutcome(out); perr != nil {
				return perr
			}
			return err
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit trail (logs and notifications)")
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "longest wait for the outcome")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "send the command and return")
	return cmd
}

// operate plans the command against the record, sends it and waits for the
// outcome; a command that went stale before it ran is planned and sent once
// more against the fresh record.
func (s *session) operate(ctx context.Context, kind opKind, iccid, reason string, timeout time.Duration, noWait bool) (CommandOutcome, error) {
	start := s.now()
	out := CommandOutcome{ICCID: iccid, Kind: string(kind)}
	var watch *failureWatch
	if !noWait {
		watch = s.watchFailures(ctx)
		defer watch.close()
	}
	deadline := start.Add(timeout)
	for try := 0; try < 2; try++ {
		cmd, noop, err := s.plan(ctx, kind, iccid, reason)
		if err != nil || noop != "" {
			out.Outcome, out.Message = "noop", noop
			if err != nil {
				out.Outcome, out.Message = "refused", err.Error()
			}
			out.Seconds = s.now().Sub(start).Seconds()
			return out, err
		}
		out.CommandID, out.RequestedBy = cmd.ID, cmd.RequestedBy
		if err := s.sendCommand(ctx, cmd); err != nil {
			return out, err
		}
		if noWait {
			out.Outcome, out.Message = "sent", "sent to "+queueOf(s, cmd.Kind)
			return out, nil
		}
		res, err := s.await(ctx, cmd, watch, deadline)
		out.Seconds = s.now().Sub(start).Seconds()
		if errors.Is(err, errStale) && try == 0 {
			fmt.Fprintf(s.errOut, "the record changed before %s ran (it was ignored as stale); computing it again\n", cmd.ID)
			continue
		}
		res.ICCID, res.Kind, res.CommandID, res.RequestedBy, res.Seconds = out.ICCID, out.Kind, out.CommandID, out.RequestedBy, out.Seconds
		return res, err
	}
	return out, errors.New("unreachable")
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
		cmd.Kind, cmd.Status = events.KindCreate, onceapi.StatusEnabled
		sim, err := s.onceSIM(ctx, iccid)
		if err != nil {
			return cmd, "", err
		}
		ip, err := simip.Normalize(sim.IPAddress)
		if err != nil || ip == "" {
			return cmd, "", fmt.Errorf("1NCE lists SIM %s without a valid IP (%q): nothing to enable", iccid, sim.IPAddress)
		}
		cmd.IP, cmd.IMSI, cmd.MSISDN, cmd.Label = ip, sim.IMSI, sim.MSISDN, sim.Label
		if exists && rec.CurrentState() == simrec.StateActive && rec.IP == ip && rec.Next == nil && len(rec.Retiring) == 0 && rec.ClaimedBy == "" {
			return cmd, fmt.Sprintf("SIM %s is active at %s already", iccid, ip), nil
		}
	}
	return cmd, "", cmd.Validate()
}

// onceSIM reads the SIM from 1NCE; enable must not resurrect a SIM 1NCE
// has disabled (sim-poller would disable it again).
func (s *session) onceSIM(ctx context.Context, iccid string) (onceapi.SIM, error) {
	c, err := s.onceClient(ctx)
	if err != nil {
		return onceapi.SIM{}, fmt.Errorf("enable needs the SIM's IP from 1NCE: %w", err)
	}
	sim, err := c.GetSIM(ctx, iccid)
	if errors.Is(err, onceapi.ErrSIMNotFound) {
		return sim, attention("1NCE does not hold SIM %s", iccid)
	}
	if err != nil {
		return sim, err
	}
	if sim.Status != onceapi.StatusEnabled {
		return sim, fmt.Errorf("1NCE lists SIM %s as %s: enable it in 1NCE first (sim-poller would disable it again)", iccid, sim.Status)
	}
	return sim, nil
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
// (the record moved on without it: stale).
func (s *session) await(ctx context.Context, cmd events.SimCommand, watch *failureWatch, deadline time.Time) (CommandOutcome, error) {
	bar := newProgress(s.errOut, s.opts.Progress, -1, fmt.Sprintf("waiting for %s %s", cmd.Kind, cmd.ICCID), "checks")
	defer bar.Finish()
	lastAttempts := 0
	for {
		rec, err := s.store.Get(ctx, cmd.ICCID)
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
		if !s.now().Before(deadline) {
			o := outcomeOf(rec, "timeout", "no outcome yet")
			return o, timedOut("no outcome of %s %s after waiting; it may still run: simbridge status %s", cmd.Kind, cmd.ICCID, cmd.ICCID)
		}
		if watch != nil {
			msg, err := watch.next(ctx, cmd.ICCID)
			if err != nil {
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
			return CommandOutcome{}, err
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

func (s *session) printOutcome(o CommandOutcome) error {
	if o.Outcome == "" {
		return nil
	}
	if s.opts.Output == FormatJSON {
		return writeJSON(s.out, o)
	}
	fmt.Fprintf(s.out, "%s %s: %s — %s", o.Kind, o.ICCID, o.Outcome, o.Message)
	if o.State != "" {
		fmt.Fprintf(s.out, "; state %s, certificate %s, version %d", o.State, short(o.CertificateID), o.Version)
	}
	if o.CommandID != "" {
		fmt.Fprintf(s.out, " (command %s, %.1fs)", o.CommandID, o.Seconds)
	}
	fmt.Fprintln(s.out)
	return nil
}
