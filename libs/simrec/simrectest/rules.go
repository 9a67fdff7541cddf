package simrectest

import (
	"fmt"
	"strings"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simrec"
)

// RuleCase is one situation of a SIM and what the reconciliation rules
// (simrec.Decide) make of it. Every path that decides a SIM runs the same
// cases (RuleCases): simrec's own test, sim-poller's full sync and targeted
// sync, and simbridge's enable, status, sync and audit against the real
// sim-poller, so the outcome cannot depend on the path.
//
// SIMs are named "A", "B", …; IPs are written with the placeholder "N"
// ("10.N.0.1"): In makes a case concrete for one environment.
type RuleCase struct {
	Name string
	// Once is the 1NCE account (only these SIMs), Records the SIM table.
	Once    []simrec.Listed
	Records []RuleRecord
	// SIM is the SIM decided.
	SIM string
	// Change and Problem are what the rules decide for SIM; Grants whether
	// it may have credentials (what `enable` checks).
	Change  events.Kind
	Problem string
	Grants  bool
	// Others are the changes the same decision makes to other SIMs (the
	// active SIM caught in SIM's IP conflict loses access), by name.
	Others map[string]events.Kind
}

// RuleRecord is a record of the table in a RuleCase.
type RuleRecord struct {
	ICCID string
	IP    string
	State simrec.State
	// Status is the 1NCE status the record last saw (default Enabled).
	Status string
}

// Summary is the record as reconciliation reads it.
func (r RuleRecord) Summary() simrec.Summary {
	status := r.Status
	if status == "" {
		status = simrec.OnceEnabled
	}
	return simrec.Summary{ICCID: r.ICCID, IP: r.IP, Active: r.State == simrec.StateActive, State: r.State, Status: status, Version: 1, LastCommand: "seed"}
}

const (
	on  = simrec.OnceEnabled
	off = simrec.OnceDisabled
)

// RuleCases are the situations every path must decide alike.
var RuleCases = []RuleCase{
	{Name: "new SIM", Once: []simrec.Listed{{ICCID: "A", Status: on, IP: "10.N.0.1"}}, SIM: "A",
		Change: events.KindCreate, Grants: true},
	{Name: "IPv4-mapped IPv6 is its IPv4 address", Once: []simrec.Listed{{ICCID: "A", Status: on, IP: "::ffff:10.N.0.1"}}, SIM: "A",
		Change: events.KindCreate, Grants: true},
	{Name: "IP moved in 1NCE", Once: []simrec.Listed{{ICCID: "A", Status: on, IP: "10.N.0.2"}},
		Records: []RuleRecord{{ICCID: "A", IP: "10.N.0.1", State: simrec.StateActive}}, SIM: "A",
		Change: events.KindUpdate, Grants: true},
	{Name: "IP also given to a working SIM", Once: []simrec.Listed{{ICCID: "A", Status: on, IP: "10.N.0.1"}, {ICCID: "B", Status: on, IP: "10.N.0.1"}},
		Records: []RuleRecord{{ICCID: "B", IP: "10.N.0.1", State: simrec.StateActive}}, SIM: "A",
		Problem: simrec.ProblemIPConflict, Others: map[string]events.Kind{"B": events.KindDisable}},
	{Name: "IP also given to a SIM without record, this one disabled for the conflict",
		Once:    []simrec.Listed{{ICCID: "A", Status: on, IP: "10.N.0.1"}, {ICCID: "B", Status: on, IP: "10.N.0.1"}},
		Records: []RuleRecord{{ICCID: "A", IP: "10.N.0.1", State: simrec.StateDisabled}}, SIM: "A",
		Problem: simrec.ProblemIPConflict},
	{Name: "invalid IP", Once: []simrec.Listed{{ICCID: "A", Status: on, IP: "10.N.0.300"}}, SIM: "A",
		Problem: simrec.ProblemInvalidIP},
	{Name: "invalid IP of an active SIM keeps its record", Once: []simrec.Listed{{ICCID: "A", Status: on, IP: "fd00::1"}},
		Records: []RuleRecord{{ICCID: "A", IP: "10.N.0.1", State: simrec.StateActive}}, SIM: "A",
		Problem: simrec.ProblemInvalidIP},
	{Name: "no IP", Once: []simrec.Listed{{ICCID: "A", Status: on}}, SIM: "A", Problem: simrec.ProblemNoIP},
	{Name: "disabled in 1NCE", Once: []simrec.Listed{{ICCID: "A", Status: off, IP: "10.N.0.1"}},
		Records: []RuleRecord{{ICCID: "A", IP: "10.N.0.1", State: simrec.StateActive}}, SIM: "A",
		Change: events.KindDisable},
	{Name: "enabled again in 1NCE", Once: []simrec.Listed{{ICCID: "A", Status: on, IP: "10.N.0.1"}},
		Records: []RuleRecord{{ICCID: "A", IP: "10.N.0.1", State: simrec.StateDisabled, Status: off}}, SIM: "A",
		Change: events.KindCreate, Grants: true},
	{Name: "revoked, still enabled in 1NCE", Once: []simrec.Listed{{ICCID: "A", Status: on, IP: "10.N.0.1"}},
		Records: []RuleRecord{{ICCID: "A", IP: "10.N.0.1", State: simrec.StateRevoked}}, SIM: "A", Grants: true},
	// Z keeps the listing from being empty, which a full sync treats as an
	// outage, not as a fleet that left.
	{Name: "gone from 1NCE", Once: []simrec.Listed{{ICCID: "Z", Status: on, IP: "10.N.0.9"}},
		Records: []RuleRecord{{ICCID: "A", IP: "10.N.0.1", State: simrec.StateActive}, {ICCID: "Z", IP: "10.N.0.9", State: simrec.StateActive}},
		SIM:     "A", Change: events.KindDisable},
}

// ICCIDs names SIMs "A", "B", … "Z" as ICCIDs base+"01", base+"02", …
// (base: 17 to 20 digits, one per environment).
func ICCIDs(base string) func(name string) string {
	return func(name string) string { return fmt.Sprintf("%s%02d", base, name[0]-'A'+1) }
}

// In makes the case concrete: each SIM name becomes iccid(name) and the
// placeholder N in IPs becomes n, so cases share one environment.
func (c RuleCase) In(n int, iccid func(name string) string) RuleCase {
	ip := func(s string) string { return strings.ReplaceAll(s, "N", fmt.Sprint(n)) }
	out := c
	out.SIM = iccid(c.SIM)
	out.Once = nil
	for _, l := range c.Once {
		out.Once = append(out.Once, simrec.Listed{ICCID: iccid(l.ICCID), Status: l.Status, IP: ip(l.IP)})
	}
	out.Records = nil
	for _, r := range c.Records {
		r.ICCID, r.IP = iccid(r.ICCID), ip(r.IP)
		out.Records = append(out.Records, r)
	}
	out.Others = map[string]events.Kind{}
	for name, k := range c.Others {
		out.Others[iccid(name)] = k
	}
	return out
}

// Listed is the SIM as 1NCE holds it in the case (nil: not at all).
func (c RuleCase) Listed(iccid string) *simrec.Listed {
	for _, l := range c.Once {
		if l.ICCID == iccid {
			return &l
		}
	}
	return nil
}

// Record is the SIM's record in the case (nil: none).
func (c RuleCase) Record(iccid string) *simrec.Summary {
	for _, r := range c.Records {
		if r.ICCID == iccid {
			s := r.Summary()
			return &s
		}
	}
	return nil
}

// Claimants are the other SIMs the case's 1NCE account gives iccid's IP as
// Enabled (a listing's view).
func (c RuleCase) Claimants(iccid string) []string {
	me := c.Listed(iccid)
	if me == nil || me.Status != simrec.OnceEnabled {
		return nil
	}
	d := simrec.Decide(me, nil, nil)
	var out []string
	for _, l := range c.Once {
		if l.ICCID == iccid || l.Status != simrec.OnceEnabled {
			continue
		}
		if o := simrec.Decide(&l, nil, nil); o.IP != "" && o.IP == d.IP {
			out = append(out, l.ICCID)
		}
	}
	return out
}
