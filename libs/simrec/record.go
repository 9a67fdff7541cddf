// Package simrec is the SIM record and its rules: the lifecycle states, the
// certificates a SIM holds, who may change it (claims) and which commands
// are too old to change it (Admits). It imports no SDK: the stores
// (libs/simstore: DynamoDB and in-memory) keep records, the services apply
// these rules.
package simrec

import (
	"errors"
	"time"
)

// Errors callers branch on.
var (
	// ErrNotFound means no record has that key.
	ErrNotFound = errors.New("sim record not found")
	// ErrConflict means the record changed (or already exists) since it was read.
	ErrConflict = errors.New("sim record changed concurrently")
)

// State is where a SIM stands in its lifecycle.
type State string

// States of a SIM record.
const (
	// StatePending: the record exists but the SIM has never been made
	// onboardable yet (its first certificate is being issued).
	StatePending State = "pending"
	// StateActive: the device may fetch its credentials; the certificate is
	// ACTIVE, attached to the Thing and has the policy.
	StateActive State = "active"
	// StateDisabled: access taken away; the certificate is INACTIVE and is
	// reactivated when the SIM is enabled again.
	StateDisabled State = "disabled"
	// StateRevoked: the certificate is REVOKED and never used again; enabling
	// the SIM again issues a fresh one.
	StateRevoked State = "revoked"
)

// Authorities that issue device certificates.
const (
	// AuthorityOwn is the account's own CA, its key in KMS.
	AuthorityOwn = "own"
	// AuthorityAWS is Amazon's CA (CreateKeysAndCertificate).
	AuthorityAWS = "aws"
)

// Credentials are one certificate of a SIM and its sealed private key.
type Credentials struct {
	// ID is the IoT certificate id (SHA-256 of the DER), ARN its ARN once
	// IoT Core knows the certificate (empty before registration).
	ID  string
	ARN string
	PEM string
	// KeyCiphertext is the private key sealed with KMS; empty when the key
	// was born on the device (enrolment) or deleted since (key mode device):
	// simbridge then holds no key of the certificate.
	KeyCiphertext []byte
	// Authority says who signed the certificate (AuthorityOwn, AuthorityAWS).
	Authority string
	IssuedAt  time.Time
	// Command is the command that minted it, so its redelivery knows how far
	// it got.
	Command string
	// AdoptedFrom names the reference system's table the certificate and key
	// were taken over from (simbridge adopt); empty for certificates
	// simbridge issued. An adopted certificate was issued by Amazon's CA
	// (AuthorityAWS) and PEM holds it byte for byte as the reference stored
	// it, so the device keeps getting the very same answer.
	AdoptedFrom string
	// KeySHA256 is the hex SHA-256 of an adopted private key PEM, so the
	// reference's plaintext copy can be proven sealed here, and then
	// removed, without decrypting anything.
	KeySHA256 string
	// DeviceKey says the key was born on the device: the certificate was
	// certified from its request (enrolment) and no key of it ever existed
	// here.
	DeviceKey bool
}

// Adopted reports whether the credentials were taken over from the
// reference system rather than issued by simbridge.
func (c *Credentials) Adopted() bool { return c != nil && c.AdoptedFrom != "" }

// Usable reports whether the credentials hold a certificate a device can
// use: with its sealed key (made here) or without (the device holds it).
func (c *Credentials) Usable() bool {
	return c != nil && c.PEM != ""
}

// HasKey reports whether the credentials hold the sealed private key, the
// one onboarding serves.
func (c *Credentials) HasKey() bool {
	return c != nil && len(c.KeyCiphertext) > 0
}

// Failure is the last failed attempt at a SIM, cleared on success.
type Failure struct {
	Step     string
	Reason   string
	At       time.Time
	Attempts int
	Command  string
}

// Record is the onboarding state of one SIM.
type Record struct {
	ICCID string
	// IP is the SIM's fixed address in 1NCE's network; the onboarding lookup key.
	IP string
	// Active is true while the SIM may onboard (State is StateActive); it is
	// what onboarding-api checks.
	Active bool
	// State is the lifecycle state; empty on records written before states
	// existed (see CurrentState).
	State State
	// Status is the 1NCE status last observed (Enabled, Disabled).
	Status    string
	ThingName string
	// Cert is the SIM's current certificate, the one a device receives (nil
	// before the first is issued).
	Cert *Credentials
	// Next is a certificate being issued: recorded before IoT Core hears of
	// it, so an interrupted attempt is finished from here and never orphans it.
	Next *Credentials
	// Retiring lists certificate ARNs taken out of service (replaced or
	// revoked) that are still to be REVOKED and detached from the Thing.
	Retiring []string
	// LastCommand is the command whose handling last wrote the record: a
	// redelivery of it continues its work, any other older command is stale.
	LastCommand string
	// ClaimedBy and ClaimedUntil keep two commands from changing one SIM's
	// certificates at once: the claimant works, others wait or give up.
	ClaimedBy    string
	ClaimedUntil time.Time
	// LastFailure is the last failed attempt, cleared on success.
	LastFailure *Failure
	// KeyMode is the SIM's own key mode ("": the environment's), set by an
	// operator or by its device's enrolment (in key mode both).
	KeyMode KeyMode
	// Enrolments are the SIM's latest enrolments (at most MaxEnrolments),
	// newest last, and EnrolCount how many there were in all: the history
	// operators see and the per-SIM rate limit reads.
	Enrolments []Enrolment
	EnrolCount int
	// LastFetchAt is when the device last fetched its credentials (written
	// by onboarding-api off the request path, at most once a minute per SIM;
	// zero: never).
	LastFetchAt time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// Version increments on every write; writes are conditional on it.
	Version int64
}

// HasCredentials reports whether the record holds a certificate for the
// device (with a sealed key or, in key mode device, without).
func (r Record) HasCredentials() bool { return r.Cert.Usable() }

// CurrentState is State, derived for records written before states existed.
func (r Record) CurrentState() State {
	switch {
	case r.State != "":
		return r.State
	case r.Active:
		return StateActive
	case r.HasCredentials():
		return StateDisabled
	default:
		return StatePending
	}
}

// CertificateID is the current certificate's id ("" without one).
func (r Record) CertificateID() string {
	if r.Cert == nil {
		return ""
	}
	return r.Cert.ID
}

// CertificateARN is the current certificate's ARN ("" without one).
func (r Record) CertificateARN() string {
	if r.Cert == nil {
		return ""
	}
	return r.Cert.ARN
}

// SetState sets the lifecycle state and the Active flag onboarding reads.
func (r *Record) SetState(s State) {
	r.State, r.Active = s, s == StateActive
}

// Claimed reports whether a command other than cmd holds an unexpired claim.
func (r Record) Claimed(cmd string, now time.Time) bool {
	return r.ClaimedBy != "" && r.ClaimedBy != cmd && now.Before(r.ClaimedUntil)
}

// Summary is the part of a record reconciliation compares with 1NCE, small
// enough to hold for every SIM of a large account.
type Summary struct {
	ICCID   string
	IP      string
	Active  bool
	State   State
	Status  string
	Version int64
	// LastCommand lets a command computed from this summary say which
	// command it saw last (events.SimCommand.BaseCommand). A store scan
	// leaves it out (it is the widest field, and a sync re-reads the record
	// of every SIM it changes); Record.Summary sets it.
	LastCommand string
}

// Summary returns the record's summary.
func (r Record) Summary() Summary {
	return Summary{ICCID: r.ICCID, IP: r.IP, Active: r.Active, State: r.CurrentState(), Status: r.Status,
		Version: r.Version, LastCommand: r.LastCommand}
}

// Admits reports whether a command may change the record: it was computed
// against the record's current version; or it is the command that last wrote
// the record (a redelivery finishing its own work); or only the command it
// saw at work when it was computed has written since. Anything else was
// computed against an older state and must not undo the newer one.
func (r Record) Admits(cmdID string, baseVersion int64, baseCommand string) bool {
	switch {
	case r.LastCommand != "" && r.LastCommand == cmdID:
		return true
	case r.Version == baseVersion:
		return true
	default:
		return baseCommand != "" && r.LastCommand == baseCommand && baseVersion > 0
	}
}
