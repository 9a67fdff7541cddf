package onceapi_test

import (
	"encoding/json"
	"testing"

	"github.com/simbridge/simbridge/libs/onceapi"
)

func TestStreamRecordIDsAndKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		body   string
		id     onceapi.RecordID
		usage  bool
		hasSIM bool
	}{
		{"event with a numeric id", `{"id":1234567890123,"event_type":{"id":3,"description":"Create PDP Context"},"sim":{"iccid":"8988228066605682328"}}`, "1234567890123", false, true},
		{"event with a string id", `{"id":"abc-1","event_type":{"id":1,"description":"Update location"}}`, "abc-1", false, false},
		{"usage record", `{"id":819948096,"traffic_type":{"id":5,"description":"Data"},"start_timestamp":"2021-08-09T12:59:05Z","sim":{"iccid":"1"}}`, "819948096", true, true},
		{"null id", `{"id":null}`, "", false, false},
	}
	for _, tc := range tests {
		var r onceapi.StreamRecord
		if err := json.Unmarshal([]byte(tc.body), &r); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if r.ID != tc.id || r.IsUsage() != tc.usage || (r.SIM != nil) != tc.hasSIM {
			t.Errorf("%s: %+v", tc.name, r)
		}
	}
	b, _ := json.Marshal(onceapi.StreamRecord{ID: "42"})
	if string(b) != `{"id":42}` {
		t.Errorf("numeric id encodes as %s, want a number", b)
	}
	var bad onceapi.StreamRecord
	if err := json.Unmarshal([]byte(`{"id":{"x":1}}`), &bad); err == nil {
		t.Error("an object as id must not decode")
	}
}
