// Package domain decides how the SIM store must change so that it matches
// the 1NCE inventory (SPEC section 4). It is pure: no I/O, no SDKs.
package domain

import "github.com/simbridge/simbridge/libs/events"

// 1NCE SIM status values.
const (
	StatusEnabled  = "Enabled"
	StatusDisabled = "Disabled"
)

// RemoteSIM is a SIM as the 1NCE Management API lists it.
type RemoteSIM struct {
	ICCID  string
	IP     string
	Status string
	// Attributes copied onto the SIM's Thing.
	Attributes Attributes
}

// Attributes are the SIM's 1NCE attributes its Thing carries.
type Attributes struct {
	IMSI, MSISDN, Label string
}

// LocalSIM is what the store knows about a SIM.
type LocalSIM struct {
	ICCID  string
	IP     string
	Active bool
	// State is the record's lifecycle state (StatePending, …); Status the
	// 1NCE status it last recorded.
	State   string
	Status  string
	Version int64
	// LastCommand is the command that last wrote the record: changes
	// computed from this state name it (events.SimCommand.BaseCommand).
	LastCommand string
}

// Record states sim-poller tells apart (simrec.State values).
const (
	StatePending = "pending"
	StateRevoked = "revoked"
)

// mayGainAccess reports whether the SIM has access or may get it from a
// command still at work (a pending record): taking access away from such a
// SIM needs a disable.
func (l LocalSIM) mayGainAccess() bool { return l.Active || l.State == StatePending }

// heldRevoked reports whether the SIM was revoked by an operator and 1NCE
// has not disabled it since: it stays without access until 1NCE disables
// and enables it again (a later enable issues a fresh certificate).
func (l LocalSIM) heldRevoked() bool { return l.State == StateRevoked && l.Status != StatusDisabled }

// Change is one command to publish.
type Change struct {
	Kind        events.Kind
	ICCID       string
	IP          string
	Status      string
	Reason      string
	BaseVersion int64
	BaseCommand string
	Attributes  Attributes
}

// Reasons recorded on changes.
const (
	ReasonNew        = "new SIM"
	ReasonReEnabled  = "SIM enabled again"
	ReasonIPChanged  = "IP address changed"
	ReasonDisabled   = "SIM disabled in 1NCE"
	ReasonAbsent     = "SIM no longer in the 1NCE account"
	ReasonIPConflict = "IP address claimed by several SIMs"
)
