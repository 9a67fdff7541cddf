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

// 1NCE SIM status values.
const (
	StatusEnabled  = "Enabled"
	StatusDisabled = "Disabled"
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

// mayGainAccess reports whether the SIM has access or may get it from a
// command still at work (a pending record): taking access away from such a
// SIM needs a disable.
func mayGainAccess(l simrec.Summary) bool { return l.Active || l.State == simrec.StatePending }

// heldRevoked reports whether the SIM was revoked by an operator and 1NCE
// has not disabled it since: it stays without access until 1NCE disables
// and enables it again (a later enable issues a fresh certificate).
func heldRevoked(l simrec.Summary) bool {
	return l.State == simrec.StateRevoked && l.Status != StatusDisabled
}

// Reasons recorded on commands.
const (
	ReasonNew        = "new SIM"
	ReasonReEnabled  = "SIM enabled again"
	ReasonIPChanged  = "IP address changed"
	ReasonDisabled   = "SIM disabled in 1NCE"
	ReasonAbsent     = "SIM no longer in the 1NCE account"
	ReasonIPConflict = "IP address claimed by several SIMs"
)

// disable is the command taking access away from the SIM of record l,
// computed against it (BaseVersion, BaseCommand: simrec.Record.Admits).
func disable(l simrec.Summary, status, reason string) events.SimCommand {
	return events.SimCommand{Kind: events.KindDisable, ICCID: l.ICCID, IP: l.IP, Status: status, Reason: reason,
		BaseVersion: l.Version, BaseCommand: l.LastCommand}
}

// Redecide computes cmd again against fresh, the SIM's record as it is now,
// for a change that was decided from an older summary of it (a full sync
// compares the listing with the store's summary index, read before the
// listing began): the same rule applied to the newer state, with that state
// as its base. ok is false when the record no longer needs the change.
func Redecide(cmd events.SimCommand, fresh simrec.Summary) (events.SimCommand, bool) {
	switch cmd.Kind {
	case events.KindDisable:
		if !mayGainAccess(fresh) && !(cmd.Status == StatusDisabled && heldRevoked(fresh)) {
			return events.SimCommand{}, false
		}
		return disable(fresh, cmd.Status, cmd.Reason), true
	case events.KindCreate, events.KindUpdate:
		out := cmd
		out.BaseVersion, out.BaseCommand = fresh.Version, fresh.LastCommand
		switch {
		case heldRevoked(fresh):
			return events.SimCommand{}, false
		case !fresh.Active:
			out.Kind, out.Reason = events.KindCreate, ReasonReEnabled
		case fresh.IP != cmd.IP:
			out.Kind, out.Reason = events.KindUpdate, ReasonIPChanged
		default:
			return events.SimCommand{}, false
		}
		return out, true
	default:
		return cmd, true
	}
}
