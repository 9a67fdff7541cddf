package opscli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// Every command that changes something (revoke, reissue, enable, audit
// --fix, failures redrive and delete, ca init, adopt) goes through the same
// gate before it sends anything:
//
//	flags := addChangeFlags(cmd)                  // --yes, --dry-run
//	plan := Plan{Change: "revoke 2 SIMs", Steps: …} // one step per command it will send
//	if ok, err := s.approve(ctx, flags, plan); !ok || err != nil { return err }
//	… send …
//
// approve prints the plan and, on a terminal, asks; --yes confirms without
// asking (scripts); --dry-run prints the plan (as JSON with -o json) and
// changes nothing; with neither and no terminal on stdin it refuses, so a
// script or CI job never changes the fleet because nobody was asked.

// changeFlags are --yes and --dry-run of a command that changes something.
type changeFlags struct {
	yes, dryRun bool
	// stdinTaken is set when stdin carries the command's input (-f -), so
	// it cannot also answer the question.
	stdinTaken bool
}

// addChangeFlags gives cmd --yes and --dry-run.
func addChangeFlags(cmd *cobra.Command) *changeFlags {
	f := &changeFlags{}
	cmd.Flags().BoolVarP(&f.yes, "yes", "y", false, "do it without asking (scripts)")
	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "print the planned commands and change nothing")
	return f
}

// PlannedStep is one command a change will send, as --dry-run prints it.
type PlannedStep struct {
	// Action is what is sent (revoke, reissue, create, sync, redrive, delete…).
	Action string `json:"action"`
	// Target is what it acts on (an ICCID, a message, the CA).
	Target string `json:"target"`
	// Detail says where it goes and against what state it was computed.
	Detail string `json:"detail,omitempty"`
}

// Plan is a change about to be made: what --dry-run prints (-o json: this
// object) and what the confirmation shows.
type Plan struct {
	DryRun      bool   `json:"dry_run"`
	Environment string `json:"environment"`
	// Change says it in a few words ("revoke 2 SIMs").
	Change string        `json:"change"`
	Steps  []PlannedStep `json:"steps"`
	// Notes are what the operator should know before saying yes.
	Notes []string `json:"notes"`
}

// errNotConfirmed ends a change the operator did not confirm.
var errNotConfirmed = errors.New("not confirmed: nothing changed")

// approve shows the plan and says whether to carry it out (see above).
// A plan without steps is shown as nothing to do and not carried out.
func (s *session) approve(ctx context.Context, f *changeFlags, p Plan) (bool, error) {
	p.Environment = s.where(ctx)
	p.DryRun = f.dryRun
	if p.Steps == nil {
		p.Steps = []PlannedStep{}
	}
	if p.Notes == nil {
		p.Notes = []string{}
	}
	switch {
	case f.dryRun:
		return false, s.printPlan(p, s.out, "dry run, nothing sent: would "+p.Change)
	case len(p.Steps) == 0:
		return false, nil
	case f.yes:
		fmt.Fprintf(s.errOut, "%s: %s (confirmed by --yes)\n", p.Environment, p.Change)
		return true, nil
	case !s.opts.inTerminal || f.stdinTaken || s.opts.in == nil:
		why := "stdin is not a terminal"
		if f.stdinTaken {
			why = "stdin carries the list of SIMs"
		}
		return false, usageError("%s asks before it changes anything, and %s: pass --yes to confirm (--dry-run shows the plan)", p.Change, why)
	}
	if err := s.printPlan(p, s.errOut, "about to "+p.Change); err != nil {
		return false, err
	}
	fmt.Fprint(s.errOut, "Proceed? [y/N] ")
	answer, err := bufio.NewReader(s.opts.in).ReadString('\n')
	if err != nil && answer == "" {
		fmt.Fprintln(s.errOut)
		return false, errNotConfirmed
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return true, nil
	}
	return false, errNotConfirmed
}

// printPlan writes the plan for people (under title) or as JSON.
func (s *session) printPlan(p Plan, w interface{ Write([]byte) (int, error) }, title string) error {
	if s.opts.Output == FormatJSON && w == s.out {
		return writeJSON(w, p)
	}
	fmt.Fprintf(w, "%s in %s:\n", title, p.Environment)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, st := range p.Steps {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", st.Action, st.Target, st.Detail)
	}
	if len(p.Steps) == 0 {
		fmt.Fprintln(tw, "  nothing to do")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range p.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	return nil
}
