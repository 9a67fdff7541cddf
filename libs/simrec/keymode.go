package simrec

import (
	"fmt"

	"github.com/simbridge/simbridge/libs/events"
)

// KeyMode says where a SIM's device key is born: in the cloud (served to
// the device, the reference's flow) or on the device (enrolment by
// certificate signing request: simbridge never holds the key). The type
// lives with the message contracts (events), which carry it.
type KeyMode = events.KeyMode

// Key modes, per environment (the services' KEY_MODE) and per SIM
// (Record.KeyMode, set by an operator or by the SIM's own enrolment).
const (
	KeyModeServer = events.KeyModeServer
	KeyModeDevice = events.KeyModeDevice
	KeyModeBoth   = events.KeyModeBoth
)

// ParseKeyMode validates a configured or requested key mode.
func ParseKeyMode(s string) (KeyMode, error) { return events.ParseKeyMode(s) }

// KeyModeSetting is the environment's key mode, read by every service that
// decides on it (the provisioner makes keys by it, onboarding-api accepts
// enrolments by it), so both read the same variable with the same default.
type KeyModeSetting struct {
	KeyMode KeyMode `env:"KEY_MODE, default=server" desc:"where device keys are born: server (made here, sealed, fetched by GET), device (enrolment by CSR only, no key kept) or both; a SIM's own mode (simbridge key-mode) wins"`
}

// Validate rejects an unknown mode.
func (s KeyModeSetting) Validate() error {
	_, err := ParseKeyMode(string(s.KeyMode))
	if err != nil {
		return fmt.Errorf("KEY_MODE: %w", err)
	}
	return nil
}

// KeyModeIn is the SIM's effective key mode: its own when set (an operator
// set it, or its device enrolled), else the environment's (server when
// none is given).
func (r Record) KeyModeIn(env KeyMode) KeyMode {
	switch {
	case r.KeyMode != "":
		return r.KeyMode
	case env != "":
		return env
	default:
		return KeyModeServer
	}
}

// DropKeys deletes every sealed private key the record holds (its current
// certificate's and one being issued): from now on simbridge holds no key
// of the SIM, and its certificates stay as they are.
func (r *Record) DropKeys() {
	for _, c := range []*Credentials{r.Cert, r.Next} {
		if c != nil {
			c.KeyCiphertext = nil
		}
	}
}

// HoldsKey reports whether the record holds a sealed private key.
func (r Record) HoldsKey() bool {
	return (r.Cert != nil && r.Cert.HasKey()) || (r.Next != nil && r.Next.HasKey())
}
