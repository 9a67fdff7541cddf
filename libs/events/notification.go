package events

import (
	"encoding/json"
	"time"
)

// Messages of success notifications, as the reference system sends them.
const (
	MessageEnabled  = "SIM enabled"
	MessageDisabled = "SIM disabled"
	MessageUpdated  = "SIM updated"
	// MessageReissued and MessageRevoked announce the per-SIM certificate
	// lifecycle the reference system did not have.
	MessageReissued = "SIM certificate reissued"
	MessageRevoked  = "SIM revoked"
	// MessageEnrolled announces a certificate a device obtained with its
	// own key (enrolment).
	MessageEnrolled = "SIM enrolled"
)

// Notification is the JSON body published to the success and failure SNS
// topics, compatible with the reference system's subscribers:
// {"iccid":"…","ip":"…","timestamp":1680618078888,"message":"SIM enabled"}.
type Notification struct {
	ICCID string `json:"iccid,omitempty"`
	IP    string `json:"ip,omitempty"`
	// Timestamp is the event time in milliseconds since the epoch.
	Timestamp int64  `json:"timestamp"`
	Message   string `json:"message"`
}

// NewNotification stamps a notification with the event time.
func NewNotification(at time.Time, iccid, ip, message string) Notification {
	return Notification{ICCID: iccid, IP: ip, Timestamp: at.UnixMilli(), Message: message}
}

// Encode returns the JSON body.
func (n Notification) Encode() ([]byte, error) { return json.Marshal(n) }
