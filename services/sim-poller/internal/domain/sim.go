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
}

// LocalSIM is what the store knows about a SIM.
type LocalSIM struct {
	ICCID   string
	IP      string
	Active  bool
	Version int64
}

// Change is one command to publish.
type Change struct {
	Kind        events.Kind
	ICCID       string
	IP          string
	Status      string
	Reason      string
	BaseVersion int64
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
