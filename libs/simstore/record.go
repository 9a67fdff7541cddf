// Package simstore keeps the onboarding record of every SIM in DynamoDB,
// keyed so that the two hot lookups are one request each: by ICCID (table key,
// used by sync and operations) and by IP (global secondary index, used by
// onboarding). Writes are conditional on a version, so a stale message can
// never overwrite newer state.
package simstore

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

// Record is the onboarding state of one SIM.
type Record struct {
	ICCID string
	// IP is the SIM's fixed address in 1NCE's network; the onboarding lookup key.
	IP string
	// Active is true while the SIM may onboard; false after a disable.
	Active bool
	// Status is the 1NCE status last observed (Enabled, Disabled).
	Status    string
	ThingName string
	// CertificateID and CertificateARN name the SIM's one certificate in IoT Core.
	CertificateID  string
	CertificateARN string
	CertificatePEM string
	// PrivateKeyCiphertext is the device's private key encrypted with KMS; the
	// plaintext is never stored.
	PrivateKeyCiphertext []byte
	// CertRequestedAt is when the provisioner last asked IoT Core for a
	// certificate for this SIM (its recorded intent): if that attempt died,
	// the certificate it may have created is searched for around this time.
	CertRequestedAt time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
	// Version increments on every write; writes are conditional on it.
	Version int64
}

// HasCredentials reports whether the record holds what a device needs.
func (r Record) HasCredentials() bool {
	return r.CertificatePEM != "" && len(r.PrivateKeyCiphertext) > 0
}

// Summary is the part of a record reconciliation compares with 1NCE, small
// enough to hold for every SIM of a large account.
type Summary struct {
	ICCID   string
	IP      string
	Active  bool
	Status  string
	Version int64
}

// Summary returns the record's summary.
func (r Record) Summary() Summary {
	return Summary{ICCID: r.ICCID, IP: r.IP, Active: r.Active, Status: r.Status, Version: r.Version}
}
