package events

import (
	"encoding/json"
	"time"
)

// SyncSummary is the one message a sync run sends to the summary topic
// (`<prefix>-sync-summary`): counts instead of a notification per SIM, so
// operators' e-mail gets one message for a first sync of 15,000 SIMs, not
// 15,000. Per-SIM successes stay on the success topic for machines.
type SyncSummary struct {
	// Timestamp is when the run ended, in milliseconds since the epoch.
	Timestamp int64 `json:"timestamp"`
	// Message says it in one sentence (the e-mail's text).
	Message string `json:"message"`
	// Published counts the run's commands by kind (create, update,
	// disable); RealtimePublished those sent for Data Streamer hints and
	// operators' targeted syncs since the previous summary.
	Published         map[string]int `json:"published"`
	RealtimePublished map[string]int `json:"realtime_published,omitempty"`
	Listed            int            `json:"listed"`
	// Skipped counts SIMs the run skipped, by reason (no_ip, …).
	Skipped map[string]int `json:"skipped,omitempty"`
	// Failed is set when the run failed (the failure topic says why).
	Failed bool `json:"failed,omitempty"`
}

// NewSyncSummary stamps a summary with the time the run ended.
func NewSyncSummary(at time.Time) SyncSummary {
	return SyncSummary{Timestamp: at.UnixMilli(), Published: map[string]int{}}
}

// Encode returns the JSON body.
func (s SyncSummary) Encode() ([]byte, error) { return json.Marshal(s) }
