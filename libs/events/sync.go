package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// SyncRequest asks sim-poller for a run, through its request queue (so it
// works from a laptop with IAM credentials, without network access to the
// task): a full sync when ICCIDs is empty, else only those SIMs, each looked
// up through 1NCE's single-SIM endpoint. Data Streamer hints are requests
// for the ICCIDs of their events.
type SyncRequest struct {
	// ID identifies the request; the run's result is stored under it
	// (SyncResultKey) for the requester to read.
	ID     string   `json:"id"`
	ICCIDs []string `json:"iccids,omitempty"`
	// Quiet names, among ICCIDs, the SIMs only events that cannot change a
	// SIM's state (a data session) named, with the IP the event gave: such a
	// SIM is looked up only when its record is not active at that IP. It
	// never grants anything: a SIM that is looked up gets the full rules.
	Quiet map[string]string `json:"quiet,omitempty"`
	// Force overrides the mass-disable guard (full syncs only).
	Force bool `json:"force,omitempty"`
	// DryRun asks what the sync would do, publishing nothing: the result's
	// summary says, SIM by SIM (SIMOutcome), what 1NCE holds and what the
	// rules decide. Operators' 1NCE reads (simbridge status, enable, audit)
	// are dry runs, so only sim-poller holds the 1NCE credentials and every
	// read shares its rate limit.
	DryRun bool `json:"dry_run,omitempty"`
	// Source says who asked: "operator", "datastreamer".
	Source      string    `json:"source"`
	RequestedBy string    `json:"requested_by,omitempty"`
	RequestedAt time.Time `json:"requested_at"`
}

// Sources of sync requests.
const (
	SourceOperator     = "operator"
	SourceDataStreamer = "datastreamer"
)

// MaxSyncICCIDs bounds one request (3,000 is the Data Streamer's largest
// batch; a message must stay under SQS's 256 KiB).
const MaxSyncICCIDs = 5000

// MaxLookupICCIDs bounds a dry-run request (an operator's lookup): its
// answer says SIM by SIM what 1NCE holds and must fit one result item.
const MaxLookupICCIDs = 1000

// Validate checks a request.
func (r SyncRequest) Validate() error {
	var errs []error
	if r.ID == "" || len(r.ID) > 128 {
		errs = append(errs, errors.New("id: 1-128 characters"))
	}
	if len(r.ICCIDs) > MaxSyncICCIDs {
		errs = append(errs, fmt.Errorf("%d ICCIDs: at most %d", len(r.ICCIDs), MaxSyncICCIDs))
	}
	if r.DryRun && len(r.ICCIDs) > MaxLookupICCIDs {
		errs = append(errs, fmt.Errorf("%d ICCIDs: a dry run answers for at most %d", len(r.ICCIDs), MaxLookupICCIDs))
	}
	for _, id := range r.ICCIDs {
		if !ValidICCID(id) {
			errs = append(errs, fmt.Errorf("iccid %q is not 18-22 digits", id))
			break
		}
	}
	for id := range r.Quiet {
		if !ValidICCID(id) {
			errs = append(errs, fmt.Errorf("quiet iccid %q is not 18-22 digits", id))
			break
		}
	}
	if r.Force && len(r.ICCIDs) > 0 {
		errs = append(errs, errors.New("force applies to full syncs only"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidCommand, err)
	}
	return nil
}

// DecodeSyncRequest parses and validates a message body.
func DecodeSyncRequest(body []byte) (SyncRequest, error) {
	var r SyncRequest
	if err := json.Unmarshal(body, &r); err != nil {
		return SyncRequest{}, fmt.Errorf("%w: %w", ErrInvalidCommand, err)
	}
	return r, r.Validate()
}

// FullSyncGroup is the FIFO message group of every full-sync request: one
// runs after the other, in the order asked. Other requests (targeted ones:
// operators' SIM lists and lookups, Data Streamer hints; dry runs) each get
// a group of their own (the request id), so they run in parallel and never
// wait in the queue behind a full sync (a full dry run waits for the run in
// progress inside sim-poller instead, as a full sync's listing must not
// overlap another).
const FullSyncGroup = "full-sync"

// GroupID is the request's FIFO message group (see FullSyncGroup).
func (r SyncRequest) GroupID() string {
	if len(r.ICCIDs) == 0 && !r.DryRun {
		return FullSyncGroup
	}
	return r.ID
}

// SIMOutcome is what a sync did, or would do (SyncRequest.DryRun), about
// one SIM, with what 1NCE said about it: the per-SIM part of a sync
// request's result ("sims" of a targeted sync's summary, "planned" of a full
// dry run's).
type SIMOutcome struct {
	ICCID string `json:"iccid"`
	// Found says 1NCE holds the SIM (false when it answered 404, or the
	// lookup failed: Outcome "failed").
	Found bool `json:"found"`
	// Status and IP are 1NCE's, the IP as 1NCE gives it (valid or not).
	Status string `json:"status,omitempty"`
	IP     string `json:"ip,omitempty"`
	// IMSI, MSISDN and Label are 1NCE's attributes of the SIM.
	IMSI   string `json:"imsi,omitempty"`
	MSISDN string `json:"msisdn,omitempty"`
	Label  string `json:"label,omitempty"`
	// Outcome is the command sent or planned (create, update, disable), or
	// OutcomeUnchanged, OutcomeNotFound, OutcomeFailed, OutcomeSkipped.
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitempty"`
	// Problem says why a SIM 1NCE enables gets no credentials (no_ip,
	// invalid_ip, ip_conflict, invalid_status: simrec.Problem*).
	Problem string `json:"problem,omitempty"`
	// Claimants are the other SIMs 1NCE gives the SIM's IP (ip_conflict).
	Claimants []string `json:"claimants,omitempty"`
	// Held is set for a SIM an operator revoked that 1NCE still enables.
	Held bool `json:"held,omitempty"`
}

// Outcomes of a SIM that got no command.
const (
	OutcomeUnchanged = "unchanged"
	OutcomeNotFound  = "not_found"
	OutcomeFailed    = "failed"
	OutcomeSkipped   = "skipped"
)

// SyncResultKey is the lease-table item ("name" attribute) holding the
// result of request id: attributes "status" ("done" or "failed"), "summary"
// (the run's summary JSON, as POST /sync answers it), "finished_at" (RFC
// 3339) and "expires_at" (Unix milliseconds; kept a day).
func SyncResultKey(id string) string { return "sync-result/" + id }
