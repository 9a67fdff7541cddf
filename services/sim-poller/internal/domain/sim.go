// Package domain decides how the SIM store must change so that it matches
// the 1NCE inventory (SPEC section 4). It is pure: no I/O, no SDKs. It reads
// the store's records as libs/simrec summarises them and decides in
// libs/events commands, the two contracts it shares with the services that
// carry the commands out, so a SIM needs no shape of its own here beyond
// what 1NCE says about it.
package domain

import (
	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simrec"
)

// 1NCE SIM status values (simrec's, where the rules live).
const (
	StatusEnabled  = simrec.OnceEnabled
	StatusDisabled = simrec.OnceDisabled
)

// RemoteSIM is a SIM as 1NCE holds it: the fields the rules read and the
// attributes its Thing carries. The 1NCE adapter makes it from the API's
// wire type, so the rules do not depend on the client.
type RemoteSIM struct {
	ICCID  string
	IP     string
	Status string
	// IMSI, MSISDN and Label are copied onto the SIM's Thing.
	IMSI, MSISDN, Label string
}

// listed is the SIM as the rules (simrec.Decide) read it.
func (s RemoteSIM) listed() *simrec.Listed {
	return &simrec.Listed{ICCID: s.ICCID, Status: s.Status, IP: s.IP}
}

// Reasons recorded on commands (simrec.Decide's).
const (
	ReasonNew        = simrec.ReasonNew
	ReasonReEnabled  = simrec.ReasonReEnabled
	ReasonIPChanged  = simrec.ReasonIPChanged
	ReasonDisabled   = simrec.ReasonDisabled
	ReasonAbsent     = simrec.ReasonAbsent
	ReasonIPConflict = simrec.ReasonIPConflict
)

// command turns the rules' decision about a SIM into its command, computed
// against its record l (BaseVersion, BaseCommand: simrec.Record.Admits).
func command(s RemoteSIM, l *simrec.Summary, d simrec.Decision) events.SimCommand {
	if d.Change == events.KindDisable {
		return disable(*l, d.Status, d.Reason)
	}
	cmd := events.SimCommand{Kind: d.Change, ICCID: s.ICCID, IP: d.IP, Status: d.Status, Reason: d.Reason,
		IMSI: s.IMSI, MSISDN: s.MSISDN, Label: s.Label}
	if l != nil {
		cmd.BaseVersion, cmd.BaseCommand = l.Version, l.LastCommand
	}
	return cmd
}

// disable is the command taking access away from the SIM of record l,
// computed against it (BaseVersion, BaseCommand: simrec.Record.Admits).
func disable(l simrec.Summary, status, reason string) events.SimCommand {
	return events.SimCommand{Kind: events.KindDisable, ICCID: l.ICCID, IP: l.IP, Status: status, Reason: reason,
		BaseVersion: l.Version, BaseCommand: l.LastCommand}
}

// Redecide computes cmd again against fresh, the SIM's record as it is now,
// for a change that was decided from an older summary of it (a full sync
// compares the listing with the store's summary index, read before the
// listing began): the same rules (simrec.Decide) applied to what 1NCE said
// and the newer record, with that record as its base. ok is false when the
// record no longer needs a change.
func Redecide(cmd events.SimCommand, fresh simrec.Summary) (events.SimCommand, bool) {
	sim := RemoteSIM{ICCID: cmd.ICCID, IP: cmd.IP, Status: cmd.Status, IMSI: cmd.IMSI, MSISDN: cmd.MSISDN, Label: cmd.Label}
	var d simrec.Decision
	switch {
	case cmd.Kind == events.KindDisable && cmd.Reason == ReasonAbsent:
		d = simrec.Decide(nil, &fresh, nil) // 1NCE confirmed it does not hold the SIM
	case cmd.Kind == events.KindDisable && cmd.Reason == ReasonIPConflict:
		// The listing gave its IP to other SIMs too; they are not named here,
		// but the rule is the same for any number of them.
		d = simrec.Decide(sim.listed(), &fresh, []string{"another SIM listed at " + cmd.IP})
	case cmd.Kind == events.KindCreate, cmd.Kind == events.KindUpdate, cmd.Kind == events.KindDisable:
		d = simrec.Decide(sim.listed(), &fresh, nil)
	default:
		return cmd, true
	}
	if d.Change == "" {
		return events.SimCommand{}, false
	}
	return command(sim, &fresh, d), true
}
