package simrec

import (
	"errors"
	"fmt"
	"time"
)

// Enrolment is one certificate a SIM's device obtained with a certificate
// signing request.
type Enrolment struct {
	At            time.Time
	CertificateID string
	// Command is the enrolment's command id, derived from the SIM and the
	// request's public key (events.EnrolID): the same key is the same id.
	Command string
}

// MaxEnrolments is how many of a SIM's latest enrolments its record keeps:
// enough for any daily cap EnrolLimits allows, small enough for the item.
const MaxEnrolments = 20

// EnrolLimits bound how often one SIM may enrol: a device that lost its key
// enrols again, a device that enrols in a loop (or a SIM moved into many
// devices) is stopped.
type EnrolLimits struct {
	// Interval is the least time between two enrolments of one SIM.
	Interval time.Duration
	// DailyCap is the most enrolments of one SIM in any 24 hours.
	DailyCap int
}

// Validate rejects limits that cannot be enforced from the record.
func (l EnrolLimits) Validate() error {
	if l.Interval < 0 || l.DailyCap < 1 || l.DailyCap > MaxEnrolments {
		return fmt.Errorf("enrolment limits: interval %v must not be negative, daily cap %d must be 1 to %d", l.Interval, l.DailyCap, MaxEnrolments)
	}
	return nil
}

// day is the window of the daily cap.
const day = 24 * time.Hour

// EnrolWait is how long the SIM must wait before its next enrolment under
// l (0: it may enrol now), from the enrolments its record holds.
func (r Record) EnrolWait(now time.Time, l EnrolLimits) time.Duration {
	var wait time.Duration
	n := len(r.Enrolments)
	if n == 0 {
		return 0
	}
	if until := r.Enrolments[n-1].At.Add(l.Interval); until.After(now) {
		wait = until.Sub(now)
	}
	var recent []Enrolment
	for _, e := range r.Enrolments {
		if e.At.Add(day).After(now) {
			recent = append(recent, e)
		}
	}
	if len(recent) >= l.DailyCap {
		// The oldest of the last DailyCap enrolments must leave the window.
		if w := recent[len(recent)-l.DailyCap].At.Add(day).Sub(now); w > wait {
			wait = w
		}
	}
	return wait
}

// ErrKeyRetired means a request's key was enrolled before and its
// certificate replaced or revoked since: a key once taken out of service
// never gets a certificate again, so the device must make a new one.
var ErrKeyRetired = errors.New("this key was enrolled before and its certificate taken out of service: generate a new key")

// CheckKey refuses the key of enrolment command cmd when the record shows
// it retired: enrolled before (within the kept history) and no longer the
// current certificate's key.
func (r Record) CheckKey(cmd string) error {
	if r.Cert != nil && r.Cert.Command == cmd {
		return nil
	}
	for _, e := range r.Enrolments {
		if e.Command == cmd {
			return ErrKeyRetired
		}
	}
	return nil
}

// Enrolled records an enrolment (in memory; the caller's write stores it):
// kept among the latest MaxEnrolments, and counted.
func (r *Record) Enrolled(e Enrolment) {
	r.Enrolments = append(r.Enrolments, e)
	if n := len(r.Enrolments); n > MaxEnrolments {
		r.Enrolments = append([]Enrolment(nil), r.Enrolments[n-MaxEnrolments:]...)
	}
	r.EnrolCount++
}

// LastEnrolment is the SIM's latest enrolment (nil: never enrolled).
func (r Record) LastEnrolment() *Enrolment {
	if len(r.Enrolments) == 0 {
		return nil
	}
	e := r.Enrolments[len(r.Enrolments)-1]
	return &e
}
