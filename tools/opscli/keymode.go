package opscli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simrec"
)

const keyModeLong = `key-mode sets a SIM's own key mode, which wins over the environment's KEY_MODE,
through a command to the provisioner (computed against the record's version, like
reissue):

  server  the key is made by simbridge, sealed with KMS and fetched by the device
          (GET /device-api/onboarding, the reference's flow); enrolment is refused
  device  the key is made on the device and never leaves it; the device enrols
          (POST /device-api/certificate). A sealed key the SIM had is deleted at once:
          the certificate keeps working for the device that holds it, GET answers
          404 from now on, the next certificate comes from an enrolment
  both    keys are made for the device to fetch, and the device may enrol, which
          switches the SIM to device

Switching to server makes no key by itself: 'simbridge reissue' does.`

func newKeyModeCommand(o *Options) *cobra.Command {
	var (
		reason string
		change *changeFlags
	)
	cmd := &cobra.Command{
		Use:     "key-mode ICCID server|device|both",
		Short:   "Set where a SIM's key is born: made here and fetched (server), made on the device (device), or both",
		Long:    keyModeLong,
		Example: "  simbridge key-mode 8988280666000000001 device --reason \"firmware 2.0 enrols\" --dry-run\n  simbridge key-mode 8988280666000000001 device --reason \"firmware 2.0 enrols\"",
		Args:    exactArgs(2, "an ICCID and a key mode"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireICCIDs(args[:1]); err != nil {
				return err
			}
			mode, err := simrec.ParseKeyMode(args[1])
			if err != nil {
				return usageError("%v", err)
			}
			s, err := connect(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			out, err := s.setKeyMode(cmd.Context(), args[0], mode, reason, change)
			if out == nil {
				return err
			}
			if perr := s.printOutcomes([]CommandOutcome{*out}, true); perr != nil {
				return perr
			}
			return err
		},
	}
	change = addChangeFlags(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit trail (logs and notifications)")
	return withTimeout(cmd, 2*time.Minute)
}

// setKeyMode plans the key-mode command, computed against the record, shows
// it and asks (--yes, --dry-run), sends it and waits for its outcome (the
// record naming it). A nil outcome means nothing was sent and there is
// nothing to print (a dry run, or a change not confirmed).
func (s *session) setKeyMode(ctx context.Context, iccid string, mode simrec.KeyMode, reason string, change *changeFlags) (*CommandOutcome, error) {
	start := s.now()
	out := &CommandOutcome{ICCID: iccid, Kind: string(events.KindKeyMode)}
	rec, err := s.store.Get(ctx, iccid)
	if errors.Is(err, simrec.ErrNotFound) {
		return out, attention("SIM %s has no record: its key mode is the environment's until it is provisioned", iccid)
	}
	if err != nil {
		return out, err
	}
	if rec.KeyMode == mode && (mode != simrec.KeyModeDevice || !rec.HoldsKey()) {
		out.Outcome, out.Message = "noop", fmt.Sprintf("SIM %s is in key mode %s already", iccid, mode)
		return out, nil
	}
	who, err := s.identity(ctx)
	if err != nil {
		return out, err
	}
	cmd := events.SimCommand{Kind: events.KindKeyMode, ICCID: iccid, IP: rec.IP, KeyMode: string(mode), BaseVersion: rec.Version,
		BaseCommand: rec.LastCommand, ObservedAt: s.now().UTC(), ID: newID(s.now()), RequestedBy: who, Reason: "operator key-mode " + string(mode)}
	if reason != "" {
		cmd.Reason += ": " + reason
	}
	if err := cmd.Validate(); err != nil {
		return out, err
	}
	plan := Plan{Change: fmt.Sprintf("set the key mode of SIM %s to %s", iccid, mode),
		Steps: []PlannedStep{{Action: string(cmd.Kind), Target: iccid, Detail: s.describeCommand(cmd)}}}
	if mode == simrec.KeyModeDevice && rec.HoldsKey() {
		plan.Notes = append(plan.Notes, "its sealed private key will be deleted; its device keeps using its certificate and enrols for the next one")
	}
	ok, err := s.approve(ctx, change, plan)
	if !ok {
		return nil, err
	}
	out.CommandID, out.RequestedBy = cmd.ID, cmd.RequestedBy
	if mode == simrec.KeyModeDevice && rec.HoldsKey() {
		fmt.Fprintf(s.errOut, "the sealed private key of SIM %s will be deleted; its device keeps using its certificate and enrols for the next one\n", iccid)
	}
	watch := s.watchFailures(ctx)
	defer watch.close()
	if err := s.sendCommand(ctx, cmd); err != nil {
		return out, err
	}
	res, err := s.await(ctx, cmd, watch)
	if errors.Is(err, errStale) {
		err = errors.New("the record changed before the command ran (it was ignored as stale): run it again")
	}
	res.ICCID, res.Kind, res.CommandID, res.RequestedBy, res.Seconds = out.ICCID, out.Kind, out.CommandID, out.RequestedBy, s.now().Sub(start).Seconds()
	return &res, err
}
