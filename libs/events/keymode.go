package events

import "fmt"

// KeyMode says where a SIM's device key is born (the key-mode command's
// value; simrec.KeyMode is the same type): in the cloud (served to
// the device, the reference's flow) or on the device (enrolment by
// certificate signing request: simbridge never holds the key).
type KeyMode string

// Key modes, per environment (the services' KEY_MODE) and per SIM
// (Record.KeyMode, set by an operator or by the SIM's own enrolment).
const (
	// KeyModeServer is the reference's flow: the provisioner makes the key,
	// seals it with KMS and the device fetches it; enrolment is refused.
	KeyModeServer KeyMode = "server"
	// KeyModeDevice: no server key is ever made. A new SIM gets its Thing and
	// its record and waits, without a certificate, until its device enrols;
	// the onboarding GET serves no key.
	KeyModeDevice KeyMode = "device"
	// KeyModeBoth makes server keys for firmware that fetches them and lets
	// a device enrol; a SIM whose device enrolled is in device mode from
	// then on (its sealed server key is deleted).
	KeyModeBoth KeyMode = "both"
)

// ParseKeyMode validates a configured or requested key mode.
func ParseKeyMode(s string) (KeyMode, error) {
	switch m := KeyMode(s); m {
	case KeyModeServer, KeyModeDevice, KeyModeBoth:
		return m, nil
	default:
		return "", fmt.Errorf("key mode %q: want %s, %s or %s", s, KeyModeServer, KeyModeDevice, KeyModeBoth)
	}
}

// ServesKeys reports whether mode makes and serves server keys.
func (m KeyMode) ServesKeys() bool { return m == KeyModeServer || m == KeyModeBoth }

// Enrols reports whether mode accepts enrolments.
func (m KeyMode) Enrols() bool { return m == KeyModeDevice || m == KeyModeBoth }
