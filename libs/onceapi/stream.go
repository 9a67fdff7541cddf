package onceapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// The Data Streamer's HTTP integration POSTs a JSON array of up to 3,000
// records to a customer's HTTPS endpoint with HTTP Basic authentication; a
// 200 acknowledges the whole request, anything else makes 1NCE retry later
// (1NCE's "Data Streamer" documentation: HTTP/Webhook integration, Event
// and Usage Records). A stream carries event records or usage records;
// both may be pointed at the same endpoint. These are the fields simbridge
// reads and the simulator sends; real records carry more, which decoding
// skips.

// MaxStreamRecords is the most records 1NCE sends in one request.
const MaxStreamRecords = 3000

// Event types (event_type.description) the simulator sends. The first ones
// are 1NCE's (Network and PDP Context Events, SIM Management Events); the
// receiver matches descriptions, case-insensitively, against its configured
// list, so a name 1NCE spells otherwise is a configuration change.
const (
	EventUpdateLocation   = "Update location"
	EventCreatePDPContext = "Create PDP Context"
	EventDeletePDPContext = "Delete PDP Context"
	EventSIMActivation    = "SIM activation"
	EventSIMSuspension    = "SIM suspension"
	EventSIMDeletion      = "SIM deletion"
	// EventSIMAdded and EventIPAddressChanged are the simulator's names
	// for a SIM joining the account and a SIM given another IP.
	EventSIMAdded         = "SIM added"
	EventIPAddressChanged = "IP address changed"
)

// StreamRecord is one Data Streamer record: an event record (EventType
// set) or a usage record (TrafficType set, no EventType).
type StreamRecord struct {
	ID            RecordID        `json:"id"`
	Timestamp     string          `json:"timestamp,omitempty"`
	EventType     *StreamType     `json:"event_type,omitempty"`
	EventSeverity *StreamType     `json:"event_severity,omitempty"`
	EventSource   *StreamType     `json:"event_source,omitempty"`
	Description   string          `json:"description,omitempty"`
	SIM           *StreamSIM      `json:"sim,omitempty"`
	Endpoint      *StreamEndpoint `json:"endpoint,omitempty"`
	// Usage records.
	TrafficType    *StreamType     `json:"traffic_type,omitempty"`
	StartTimestamp string          `json:"start_timestamp,omitempty"`
	EndTimestamp   string          `json:"end_timestamp,omitempty"`
	Volume         json.RawMessage `json:"volume,omitempty"`
	Cost           *float64        `json:"cost,omitempty"`
}

// IsUsage reports whether the record is a usage record.
func (r StreamRecord) IsUsage() bool {
	return r.EventType == nil && (r.TrafficType != nil || r.StartTimestamp != "")
}

// StreamType is an {id, description} pair (event type, source, severity,
// traffic type).
type StreamType struct {
	ID          int    `json:"id"`
	Description string `json:"description"`
}

// StreamSIM is a record's SIM.
type StreamSIM struct {
	ID     int64  `json:"id,omitempty"`
	ICCID  string `json:"iccid"`
	MSISDN string `json:"msisdn,omitempty"`
}

// StreamEndpoint is a record's device ("endpoint"), with the IP 1NCE gave it.
type StreamEndpoint struct {
	ID        int64  `json:"id,omitempty"`
	Name      string `json:"name,omitempty"`
	IMEI      string `json:"imei,omitempty"`
	IPAddress string `json:"ip_address,omitempty"`
}

// RecordID is a record's id: a 64-bit number in 1NCE's records, read from
// a string too.
type RecordID string

// UnmarshalJSON accepts a JSON number or string.
func (id *RecordID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*id = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*id = RecordID(s)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return errors.New("record id: want a number or a string")
		}
		*id = RecordID(n.String())
	}
	return nil
}

// MarshalJSON writes a numeric id as a number, as 1NCE does.
func (id RecordID) MarshalJSON() ([]byte, error) {
	if _, err := strconv.ParseInt(string(id), 10, 64); err == nil {
		return []byte(id), nil
	}
	return json.Marshal(string(id))
}
