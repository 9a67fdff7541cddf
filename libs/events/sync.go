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

// Validate checks a request.
func (r SyncRequest) Validate() error {
	var errs []error
	if r.ID == "" || len(r.ID) > 128 {
		errs = append(errs, errors.New("id: 1-128 characters"))
	}
	if len(r.ICCIDs) > MaxSyncICCIDs {
		errs = append(errs, fmt.Errorf("%d ICCIDs: at most %d", len(r.ICCIDs), MaxSyncICCIDs))
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

// SyncResultKey is the lease-table item ("name" attribute) holding the
// result of request id: attributes "status" ("done" or "failed"), "summary"
// (the run's summary JSON, as POST /sync answers it), "finished_at" (RFC
// 3339) and "expires_at" (Unix milliseconds; kept a day).
func SyncResultKey(id string) string { return "sync-result/" + id }
