package simrec

import "fmt"

// KeyMode says where a SIM's device key is born: in the cloud (served to
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

// ServesKeys reports whether mode makes and serves server keys.
func (m KeyMode) ServesKeys() bool { return m == KeyModeServer || m == KeyModeBoth }

// Enrols reports whether mode accepts enrolments.
func (m KeyMode) Enrols() bool { return m == KeyModeDevice || m == KeyModeBoth }

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
