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

// Command kinds. Create and Update go to the create queue (the provisioner),
// Disable to the disable queue (the deactivator).
const (
	KindCreate  Kind = "create"
	KindUpdate  Kind = "update"
	KindDisable Kind = "disable"
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
	// deduplicate while a later real change of the same SIM does not.
	BaseVersion int64     `json:"base_version"`
	ObservedAt  time.Time `json:"observed_at"`
}

// ErrInvalidCommand marks a message that can never be processed; consumers
// send it to the dead-letter queue instead of retrying forever.
var ErrInvalidCommand = errors.New("invalid SIM command")

// Validate checks the fields every consumer relies on.
func (c SimCommand) Validate() error {
	var errs []error
	switch c.Kind {
	case KindCreate, KindUpdate, KindDisable:
	default:
		errs = append(errs, fmt.Errorf("unknown kind %q", c.Kind))
	}
	if !ValidICCID(c.ICCID) {
		errs = append(errs, fmt.Errorf("iccid %q is not 18-22 digits", c.ICCID))
	}
	if c.Kind != KindDisable {
		if n, err := simip.Normalize(c.IP); err != nil {
			errs = append(errs, fmt.Errorf("ip: %w", err))
		} else if n != c.IP {
			errs = append(errs, fmt.Errorf("ip %q is not canonical: want %q", c.IP, n))
		}
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
		string(c.Kind), c.ICCID, c.IP, c.Status, strconv.FormatInt(c.BaseVersion, 10),
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
