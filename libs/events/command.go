// Package events holds the message contracts shared by producers and
// consumers: the SIM commands on the SQS FIFO queues and the notifications on
// SNS. Both sides import these types, so a change to a contract is a change to
// one file.
package events

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/simbridge/simbridge/libs/simip"
)

// Kind says what a SimCommand asks for.
type Kind string

// Command kinds. Create and Reissue go to the create queue and Update to the
// update queue (both the provisioner's: certificate work and cheap IP moves
// on workers of their own), Disable and Revoke to the disable queue (the
// deactivator), so those two services stay the only writers of records and
// certificates, and a move or a disable never waits behind certificate work.
const (
	KindCreate  Kind = "create"
	KindUpdate  Kind = "update"
	KindDisable Kind = "disable"
	// KindReissue replaces an active SIM's key and certificate (suspected key
	// leak): the old certificate is REVOKED once the new one is active.
	KindReissue Kind = "reissue"
	// KindRevoke takes a SIM's access away for good: its certificate is
	// REVOKED (never reactivated); a later enable issues a fresh one.
	KindRevoke Kind = "revoke"
	// KindEnrol gives an active SIM a certificate for the public key of its
	// device's certificate signing request (CSR): the previous certificate
	// is REVOKED once the new one is active and no private key is kept.
	// onboarding-api sends it; its ID is EnrolID, so a device retrying with
	// the same request is the same command.
	KindEnrol Kind = "enrol"
	// KindKeyMode sets a SIM's own key mode (KeyMode; an operator's).
	KindKeyMode Kind = "key-mode"
)

// Queue says which consumer handles a kind.
func (k Kind) Queue() QueueName {
	switch k {
	case KindDisable, KindRevoke:
		return DisableQueue
	case KindUpdate:
		return UpdateQueue
	}
	return CreateQueue
}

// QueueName names one of the command queues by role.
type QueueName string

// The command queues.
const (
	CreateQueue  QueueName = "create"
	UpdateQueue  QueueName = "update"
	DisableQueue QueueName = "disable"
)

// SimCommand asks a consumer to bring one SIM to the state sim-poller observed
// in the 1NCE inventory.
type SimCommand struct {
	Kind  Kind   `json:"kind"`
	ICCID string `json:"iccid"`
	// IP is the SIM's address in 1NCE's network; empty for a disable of a SIM
	// that has none.
	IP string `json:"ip,omitempty"`
	// Status is the 1NCE status when observed (Enabled, Disabled, or "" when absent).
	Status string `json:"status,omitempty"`
	// Reason says why the command was issued, for logs and notifications.
	Reason string `json:"reason,omitempty"`
	// BaseVersion is the SIM record version the change was computed against
	// (0 when there was no record). It makes a re-sent identical change
	// deduplicate while a later real change of the same SIM does not, and a
	// command computed against an older state is ignored as stale.
	BaseVersion int64 `json:"base_version"`
	// BaseCommand is the command that had last written the record when this
	// one was computed (the record's LastCommand). If that command was still
	// at work, its later writes are no news to this one, which stays valid.
	BaseCommand string    `json:"base_command,omitempty"`
	ObservedAt  time.Time `json:"observed_at"`
	// ID identifies the command: redeliveries and re-sent identical changes
	// share it, so a record written by it can tell its own earlier attempt
	// from a newer command. Empty means DeduplicationID (sim-poller's
	// changes); operators' commands carry a unique one.
	ID string `json:"id,omitempty"`
	// RequestedBy names who asked (an operator's identity), for the audit trail.
	RequestedBy string `json:"requested_by,omitempty"`
	// IMSI, MSISDN and Label are the SIM's 1NCE attributes, copied onto its
	// Thing so the IoT console and fleet indexing can search them.
	IMSI   string `json:"imsi,omitempty"`
	MSISDN string `json:"msisdn,omitempty"`
	Label  string `json:"label,omitempty"`
	// CSR is an enrol command's certificate signing request in PEM,
	// checked by onboarding-api and again by the provisioner. (Text, not
	// bytes: a command stays comparable.)
	CSR string `json:"csr,omitempty"`
	// KeyMode is the mode a key-mode command sets (server, device, both).
	KeyMode string `json:"key_mode,omitempty"`
}

// MaxCSRBytes bounds the CSR (PEM) an enrol command carries: an RSA-4096
// request is about 1.7 KB of PEM.
const MaxCSRBytes = 16 << 10

// EnrolID is the command id of an enrolment of the SIM iccid with the
// public key spki (its DER SubjectPublicKeyInfo): a device retrying with
// the same request sends the same command and gets the same certificate.
func EnrolID(iccid string, spki []byte) string {
	h := sha256.New()
	h.Write([]byte(iccid + "|"))
	h.Write(spki)
	return "enrol-" + hex.EncodeToString(h.Sum(nil))[:40]
}

// CommandID is ID, or the deduplication id for commands without one.
func (c SimCommand) CommandID() string {
	if c.ID != "" {
		return c.ID
	}
	return c.DeduplicationID()
}

// ErrInvalidCommand marks a message that can never be processed; consumers
// send it to the dead-letter queue instead of retrying forever.
var ErrInvalidCommand = errors.New("invalid SIM command")

// Validate checks the fields every consumer relies on.
func (c SimCommand) Validate() error {
	var errs []error
	switch c.Kind {
	case KindCreate, KindUpdate, KindDisable, KindReissue, KindRevoke:
	case KindEnrol:
		if len(c.CSR) == 0 || len(c.CSR) > MaxCSRBytes {
			errs = append(errs, fmt.Errorf("csr of %d bytes: want 1 to %d", len(c.CSR), MaxCSRBytes))
		}
	case KindKeyMode:
		if _, err := ParseKeyMode(c.KeyMode); err != nil {
			errs = append(errs, err)
		}
	default:
		errs = append(errs, fmt.Errorf("unknown kind %q", c.Kind))
	}
	if !ValidICCID(c.ICCID) {
		errs = append(errs, fmt.Errorf("iccid %q is not 18-22 digits", c.ICCID))
	}
	if c.Kind == KindCreate || c.Kind == KindUpdate {
		if n, err := simip.Normalize(c.IP); err != nil {
			errs = append(errs, fmt.Errorf("ip: %w", err))
		} else if n != c.IP {
			errs = append(errs, fmt.Errorf("ip %q is not canonical: want %q", c.IP, n))
		}
	}
	if c.BaseVersion < 0 {
		errs = append(errs, fmt.Errorf("base_version %d is negative", c.BaseVersion))
	}
	if len(c.ID) > 128 {
		errs = append(errs, errors.New("id longer than 128 characters"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidCommand, err)
	}
	return nil
}

// DeduplicationID identifies this change of this SIM for SQS FIFO
// deduplication: equal for a re-sent identical change, different for any
// later change because the base version or the observed fields differ.
func (c SimCommand) DeduplicationID() string {
	h := sha256.Sum256([]byte(strings.Join([]string{
		string(c.Kind), c.ICCID, c.IP, c.Status, strconv.FormatInt(c.BaseVersion, 10), c.BaseCommand, c.ID,
	}, "|")))
	return hex.EncodeToString(h[:])
}

// Encode returns the JSON body of the message.
func (c SimCommand) Encode() ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(c)
}

// DecodeSimCommand parses and validates a message body.
func DecodeSimCommand(body []byte) (SimCommand, error) {
	var c SimCommand
	if err := json.Unmarshal(body, &c); err != nil {
		return SimCommand{}, fmt.Errorf("%w: %w", ErrInvalidCommand, err)
	}
	if err := c.Validate(); err != nil {
		return SimCommand{}, err
	}
	return c, nil
}

// ValidICCID reports whether s looks like an ICCID: 18 to 22 decimal digits.
func ValidICCID(s string) bool {
	if len(s) < 18 || len(s) > 22 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
