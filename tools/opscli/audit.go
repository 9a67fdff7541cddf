package opscli

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// AuditReport is `audit`'s answer (-o json).
type AuditReport struct {
	Prefix      string         `json:"prefix"`
	Environment string         `json:"environment"`
	Findings    []Finding      `json:"findings"`
	Counts      map[string]int `json:"counts"`
	Totals      AuditTotals    `json:"totals"`
	Notes       []string       `json:"notes"`
	Fixes       []FixResult    `json:"fixes"`
	Seconds     float64        `json:"seconds"`
}

// AuditTotals are the sizes of the three inventories compared.
type AuditTotals struct {
	OnceSIMs      int `json:"once_sims"`
	Records       int `json:"records"`
	ManagedThings int `json:"managed_things"`
	Certificates  int `json:"certificates"`
}

const auditLong = `audit compares the whole fleet three ways: the 1NCE listing, the SIM table, and AWS
IoT Core (Things with managed-by=simbridge and the environment's thing group, their
principals, the certificates under the device policy, the certificates of the
environment's CA and the account's certificates). It lists every disagreement with
counts:

  record-without-thing                   active record whose Thing does not exist
  active-certificate-of-inactive-record  disabled/revoked record with an ACTIVE certificate
  certificate-not-active                 active record whose certificate is not ACTIVE (or missing)
  certificate-not-attached               ... not attached to its Thing
  certificate-without-policy             ... without the device policy
  thing-without-record                   managed Thing in the environment's group, no record
  orphan-certificate                     certificate with the policy or by the CA, not REVOKED,
                                         that no record names
  unattributed-certificate               INACTIVE certificate, no policy, no Thing (lost
                                         CreateKeysAndCertificate answer?); reported only
  ip-conflict                            two active records share an IP, or 1NCE gives
                                         several SIMs one IP
  enabled-in-1nce-not-active             Enabled with an IP in 1NCE, not active here
  active-not-enabled-in-1nce             active here, disabled in or gone from 1NCE
  ip-differs-from-1nce                   the record's IP is not 1NCE's
  invalid-ip-in-1nce                     1NCE gives the SIM an invalid IP (or an active
                                         one none): sim-poller skips it
  invalid-in-1nce                        another 1NCE entry the rules skip (status, ICCID)
  interrupted-attempt                    a certificate left to finish or retire, no command at work

The 1NCE side is sim-poller's: a dry run of its full sync (its listing, its rules,
nothing published), asked through its request queue, so the audit holds no 1NCE
credential, shares sim-poller's 1NCE rate limit and never lists at the same time
as a full sync.

--fix repairs only through commands, never by writing: reissue (active SIMs with a
certificate problem), revoke (an ACTIVE certificate behind a disabled record),
enable (finish an interrupted attempt), and one sync request for the SIMs whose
1NCE state decides. Orphans, Things not in 1NCE and what 1NCE must correct are
reported for a human: nothing proves they are safe to change. --kind and --iccid
narrow what is listed and fixed. Like sim-poller's mass-disable guard, --fix refuses
to change more SIMs than --max-changes (default: 10, or a tenth of the records if
more) unless --force. On a terminal the repairs are shown and confirmed; --yes for
scripts, --dry-run to see them.

Timing: the listings are bulk (250 per page) and take about a minute for 15,000 SIMs;
the per-SIM attachment check is bound by IoT Core's ListThingPrincipals and
ListPrincipalThings quotas (10 requests/s each by default, used alternately), about
13 minutes for 15,000 active SIMs. --iot-rate-limits raises them with your quotas.

Exit code 3 when disagreements remain (after --fix: any it could not repair), 1 when
--fix refused (over the cap) or a repair failed.`

// auditFlags are audit's options.
type auditFlags struct {
	fix, skipOnce, force bool
	kinds, iccids        []string
	maxChanges           int
	change               *changeFlags
}

func newAuditCommand(o *Options) *cobra.Command {
	var f auditFlags
	cmd := &cobra.Command{
		Use:   "audit [--fix]",
		Short: "Compare 1NCE, the SIM table and IoT Core; list every disagreement; --fix repairs through commands",
		Long:  auditLong,
		Example: `  simbridge audit
  simbridge audit -o json | jq '.counts'
  simbridge audit --fix --dry-run
  simbridge audit --fix --kind certificate-not-active --iccid 8988280666000000002`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, k := range f.kinds {
				if !contains(driftKinds, k) {
					return usageError("--kind %q: want one of %s", k, strings.Join(driftKinds, ", "))
				}
			}
			if err := requireICCIDs(f.iccids); err != nil {
				return err
			}
			if !f.fix && (f.change.dryRun || f.change.yes || f.force) {
				return usageError("--dry-run, --yes and --force go with --fix")
			}
			s, err := connect(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return s.audit(cmd.Context(), f)
		},
	}
	cmd.Flags().BoolVar(&f.fix, "fix", false, "send the commands that repair what can be repaired, and wait for them")
	cmd.Flags().BoolVar(&f.skipOnce, "skip-1nce", false, "do not compare with 1NCE (no request to sim-poller)")
	cmd.Flags().StringSliceVar(&f.kinds, "kind", nil, "only disagreements of this kind (repeatable)")
	cmd.Flags().StringSliceVar(&f.iccids, "iccid", nil, "only disagreements of this SIM (repeatable)")
	cmd.Flags().IntVar(&f.maxChanges, "max-changes", 0, "with --fix: most SIMs changed without --force (default: 10, or a tenth of the records)")
	cmd.Flags().BoolVar(&f.force, "force", false, "with --fix: change more SIMs than --max-changes")
	f.change = addChangeFlags(cmd)
	return withTimeout(cmd, 30*time.Minute)
}

func (s *session) audit(ctx context.Context, f auditFlags) error {
	start := s.now()
	d, notes, err := s.collect(ctx, f.skipOnce)
	if err != nil {
		return err
	}
	findings := filterFindings(check(d), f.kinds, f.iccids)
	rep := AuditReport{Prefix: s.names.Prefix, Environment: s.where(ctx), Findings: findings, Counts: map[string]int{}, Notes: notes,
		Totals: AuditTotals{OnceSIMs: d.OnceTotal, Records: len(d.Records), ManagedThings: len(d.Things), Certificates: len(d.Certs)}}
	for _, fd := range findings {
		rep.Counts[fd.Kind]++
	}
	unfixable := 0
	if f.fix {
		if rep.Fixes, err = s.repair(ctx, findings, f, len(d.Records)); err != nil {
			return err
		}
		if f.change.dryRun {
			return nil
		}
		for _, fd := range findings {
			if fd.Fix == FixNone {
				unfixable++
			}
		}
		for _, r := range rep.Fixes {
			if r.Outcome != "done" && r.Outcome != "noop" {
				unfixable += len(r.ICCIDs)
			}
		}
	}
	rep.Seconds = s.now().Sub(start).Seconds()
	if err := s.printAudit(rep, f.fix); err != nil {
		return err
	}
	switch {
	case len(findings) == 0:
		return nil
	case f.fix && unfixable == 0:
		return nil
	default:
		return attention("")
	}
}

// filterFindings keeps the findings of kinds and iccids (all when none).
func filterFindings(in []Finding, kinds, iccids []string) []Finding {
	out := []Finding{}
	for _, f := range in {
		if len(kinds) > 0 && !contains(kinds, f.Kind) {
			continue
		}
		if len(iccids) > 0 && !contains(iccids, f.ICCID) {
			continue
		}
		out = append(out, f)
	}
	return out
}

// auditCSVColumns are `audit -o csv`'s, one row per finding.
var auditCSVColumns = []column{{"kind", 0}, {"iccid", 0}, {"certificate", 0}, {"thing", 0}, {"fix", 0}, {"detail", 0}}

func (s *session) printAudit(rep AuditReport, fix bool) error {
	switch s.opts.Output {
	case FormatJSON:
		return writeJSON(s.out, rep)
	case FormatCSV:
		w, err := newRowWriter(s.out, FormatCSV, auditCSVColumns)
		if err != nil {
			return err
		}
		for _, f := range rep.Findings {
			if err := w.Row([]string{f.Kind, f.ICCID, f.Certificate, f.Thing, f.Fix, f.Detail}, f); err != nil {
				return err
			}
		}
		return w.Close()
	}
	t := rep.Totals
	fmt.Fprintf(s.out, "audit of %s: %d SIMs in 1NCE, %d records, %d managed Things, %d certificates (%.0fs)\n",
		rep.Environment, t.OnceSIMs, t.Records, t.ManagedThings, t.Certificates, rep.Seconds)
	for _, n := range rep.Notes {
		fmt.Fprintf(s.out, "note: %s\n", n)
	}
	if len(rep.Findings) == 0 {
		fmt.Fprintln(s.out, "no disagreements")
		return nil
	}
	fmt.Fprintln(s.out)
	w, _ := newRowWriter(s.out, FormatTable, []column{{"kind", 37}, {"sim", 22}, {"fix", 8}, {"detail", 0}})
	for _, f := range rep.Findings {
		subject := f.ICCID
		if subject == "" {
			subject = short(f.Certificate)
		}
		fixText := dash(f.Fix)
		if f.Fix == FixNone {
			fixText = "human"
		}
		_ = w.Row([]string{f.Kind, subject, fixText, f.Detail}, f)
	}
	fmt.Fprintln(s.out)
	kinds := make([]string, 0, len(rep.Counts))
	for k := range rep.Counts {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s %d", k, rep.Counts[k]))
	}
	fmt.Fprintf(s.out, "%d disagreement(s): %s\n", len(rep.Findings), strings.Join(parts, ", "))
	if !fix {
		n := 0
		for _, f := range rep.Findings {
			if f.Fix != FixNone {
				n++
			}
		}
		fmt.Fprintf(s.out, "simbridge audit --fix would repair %d of them through commands\n", n)
		return nil
	}
	fmt.Fprintln(s.out)
	for _, r := range rep.Fixes {
		fmt.Fprintf(s.out, "fix %-8s %-22s %-8s %s\n", r.Fix, strings.Join(r.ICCIDs, ","), r.Outcome, r.Message)
	}
	return nil
}
