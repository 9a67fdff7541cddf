package simrec

import "slices"

// The changes of a SIM's lifecycle and of its certificates, as the
// provisioner and the deactivator make them (in memory; the caller's
// conditional write stores them).

// Enable records that the SIM is onboardable at ip with its current
// certificate; status is the 1NCE status the command saw.
func (r *Record) Enable(ip, status string) {
	r.IP, r.Status = ip, status
	r.SetState(StateActive)
}

// Disable records that the SIM's access is taken away until it is enabled
// again. A revoked SIM stays revoked: its certificate is never used again.
func (r *Record) Disable() {
	if r.CurrentState() != StateRevoked {
		r.SetState(StateDisabled)
	}
}

// Revoke records that the SIM's certificates are REVOKED for good: a
// certificate being issued is dropped (the caller retires it first when IoT
// Core knows it), and enabling the SIM again issues a fresh one.
func (r *Record) Revoke() {
	r.Next = nil
	r.SetState(StateRevoked)
}

// Switch makes next the SIM's current certificate, in one write with the
// replaced one going to Retiring: the record points to the new certificate
// before the old one stops working.
func (r *Record) Switch(next Credentials) {
	if old := r.Cert; old != nil && old.ID != next.ID {
		r.Retire(old.ARN)
	}
	r.Cert, r.Next = &next, nil
}

// Retire queues a certificate taken out of service (by ARN) to be REVOKED
// and detached from the Thing; queuing it twice keeps one entry.
func (r *Record) Retire(arn string) {
	if !slices.Contains(r.Retiring, arn) {
		r.Retiring = append(r.Retiring, arn)
	}
}

// Retired records that every certificate in Retiring is REVOKED and
// detached.
func (r *Record) Retired() { r.Retiring = nil }
