package opscli

import (
	"fmt"
	"strconv"
)

// printAdopt prints the run: disagreements, then what was (or would be)
// done; -o json the whole report, -o csv one row per SIM.
func (a *adopter) printAdopt(rep AdoptReport) error {
	out := a.s.out
	switch a.s.opts.Output {
	case FormatJSON:
		if rep.SIMs == nil {
			rep.SIMs = []AdoptSIM{}
		}
		return writeJSON(out, rep)
	case FormatCSV:
		w, err := newRowWriter(out, FormatCSV, []column{{"iccid", 0}, {"ip", 0}, {"certificate_id", 0}, {"reference_active", 0},
			{"outcome", 0}, {"state", 0}, {"detail", 0}})
		if err != nil {
			return err
		}
		for _, r := range rep.SIMs {
			if err := w.Row([]string{r.ICCID, r.IP, r.CertificateID, strconv.FormatBool(r.ReferenceActive), r.Outcome, r.State, r.Detail}, r); err != nil {
				return err
			}
		}
		return w.Close()
	}
	mode := "applied"
	if rep.DryRun {
		mode = "dry run: nothing changed"
	}
	fmt.Fprintf(out, "adopt from %s (%s) into %s: %d items, %d SIMs (%s)\n", rep.Table, rep.Region, rep.Prefix, rep.Items, len(rep.SIMs), mode)
	if len(rep.Disagreements) > 0 {
		fmt.Fprintln(out)
		w, _ := newRowWriter(out, FormatTable, []column{{"kind", 24}, {"sim", 22}, {"ip", 15}, {"adopted", 7}, {"detail", 0}})
		for _, d := range rep.Disagreements {
			adopted := "yes"
			if d.Blocking {
				adopted = "no"
			}
			_ = w.Row([]string{d.Kind, dash(d.ICCID), dash(d.IP), adopted, d.Detail}, d)
		}
	}
	for _, r := range rep.SIMs {
		if r.Outcome == OutcomeFailed {
			fmt.Fprintf(out, "failed %s: %s\n", r.ICCID, r.Detail)
		}
	}
	fmt.Fprintln(out)
	a.printCounts(rep)
	return nil
}

func (a *adopter) printCounts(rep AdoptReport) {
	out, n := a.s.out, a.s.names
	states := map[string]int{}
	for _, r := range rep.SIMs {
		if r.Outcome == OutcomeAdopted || r.Outcome == OutcomeWouldAdopt {
			states[r.State]++
		}
	}
	verb := "adopted"
	if rep.DryRun {
		verb = "would adopt"
	}
	c := rep.Counts
	fmt.Fprintf(out, "%s %d SIMs: %d served at once (a=true, certificate ACTIVE), %d pending until sim-poller applies 1NCE's answer\n",
		verb, c[OutcomeAdopted]+c[OutcomeWouldAdopt], states["active"], states["pending"])
	fmt.Fprintf(out, "adopted before %d, superseded %d, not adopted %d, failed %d; %d disagreement(s)\n",
		c[OutcomeAlready], c[OutcomeSuperseded], c[OutcomeSkipped], c[OutcomeFailed], len(rep.Disagreements))
	rate := 0.0
	if rep.AdoptSeconds > 0 {
		rate = float64(len(rep.SIMs)) / rep.AdoptSeconds
	}
	fmt.Fprintf(out, "%d SIMs in %.1fs (%.1f SIMs/s), %.1fs in all\n", len(rep.SIMs), rep.AdoptSeconds, rate, rep.Seconds)
	policy := fmt.Sprintf("the reference's policy %s stays attached", a.f.refPolicy)
	if a.f.detachRefPolicy {
		policy = fmt.Sprintf("the reference's policy %s detached", a.f.refPolicy)
	}
	fmt.Fprintf(out, "each: Thing marked managed-by=simbridge (thing type %s if none) in group %s; policy %s on the certificate, %s; key sealed with %s\n",
		n.ThingType(), n.ThingGroup(), n.Policy(), policy, a.sealerKey())
	switch {
	case rep.DryRun:
		fmt.Fprintf(out, "then a sync request to sim-poller for the adopted SIMs (1NCE's answer decides each state)\nsimbridge adopt --apply does it\n")
	case a.f.noSync:
		fmt.Fprintln(out, "no sync requested (--no-sync): sim-poller's next full sync applies 1NCE's answer")
	}
	for _, id := range rep.SyncSent {
		fmt.Fprintf(out, "sync request %s sent; sim-poller applies 1NCE's answer when it runs it\n", id)
	}
	for _, res := range rep.Sync {
		fmt.Fprintf(out, "sync %s %s at %s\n", res.RequestID, res.Status, dash(res.FinishedAt))
		printSummary(a.s, res.Summary)
	}
}

func (a *adopter) sealerKey() string {
	if a.f.kmsKeyID != "" {
		return a.f.kmsKeyID
	}
	return a.s.names.KeyAlias()
}
