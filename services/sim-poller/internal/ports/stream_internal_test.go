package ports

import (
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
)

func TestCheckDepthIgnoresBracketsInStrings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		ok         bool
	}{
		{"flat", `[{"id":1}]`, true},
		{"brackets in a string", `[{"description":"[[[[{{{{\"[[[["}]`, true},
		{"at the limit", `[{"a":{"b":[1]}}]`, true},
		{"one too deep", `[{"a":{"b":[[1]]}}]`, false},
		{"not an array", ` {"a":1}`, false},
		{"empty", ``, false},
	}
	for _, tc := range tests {
		if err := checkDepth([]byte(tc.body), 4); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// TestCredentialComparisonTakesTheSameTimeHoweverCloseTheGuess: the
// presented pair is hashed and compared with every accepted digest in
// constant time, so a guess sharing a long prefix with the password is not
// answered faster or slower than one sharing nothing.
func TestCredentialComparisonTakesTheSameTimeHoweverCloseTheGuess(t *testing.T) {
	t.Parallel()
	secret := "1nce:" + strings.Repeat("s", 64)
	accepted := [][sha256.Size]byte{sha256.Sum256([]byte("old:x")), sha256.Sum256([]byte(secret))}
	if !matches(sha256.Sum256([]byte(secret)), accepted) || matches(sha256.Sum256([]byte(secret+"x")), accepted) {
		t.Fatal("matches is wrong")
	}
	near := "1nce:" + strings.Repeat("s", 63) + "t"
	far := "x" + strings.Repeat("y", 68)
	measure := func(guess string) time.Duration {
		start := time.Now()
		for range 20_000 {
			matches(sha256.Sum256([]byte(guess)), accepted)
		}
		return time.Since(start)
	}
	var c, f time.Duration
	for range 5 { // interleaved, so load on the machine hits both alike
		c += measure(near)
		f += measure(far)
	}
	if ratio := float64(c) / float64(f); ratio < 0.5 || ratio > 2 {
		t.Errorf("a close guess took %v, a far one %v: the comparison leaks how close a guess is", c, f)
	}
}

// TestDecodedRecordsKeepOnlyWhatHintsRead: of each record the receiver
// keeps whether it is usage, its event type, its SIM and the IP it gives
// (which can only spare a lookup, app/triage.go); nothing else of an event
// can reach a decision.
func TestDecodedRecordsKeepOnlyWhatHintsRead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		want       app.StreamRecord
	}{
		{name: "event with its SIM", body: `[{"id":1,"event_type":{"id":5,"description":"SIM activation"},"sim":{"iccid":"8988280666000000001","msisdn":"1"},"endpoint":{"ip_address":"10.9.9.9"}}]`,
			want: app.StreamRecord{EventType: "SIM activation", ICCID: "8988280666000000001", IP: "10.9.9.9"}},
		{name: "usage record", body: `[{"id":2,"traffic_type":{"id":5,"description":"Data"},"sim":{"iccid":"8988280666000000002"}}]`,
			want: app.StreamRecord{Usage: true, ICCID: "8988280666000000002"}},
		{name: "event without a SIM", body: `[{"id":3,"event_type":{"description":"SIM deletion"}}]`, want: app.StreamRecord{EventType: "SIM deletion"}},
		{name: "neither", body: `[{"id":4}]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			recs, ids, err := decodeRecords([]byte(tc.body), 10)
			if err != nil || len(recs) != 1 || len(ids) != 1 || recs[0] != tc.want {
				t.Fatalf("records %+v (ids %v, %v), want [%+v]", recs, ids, err, tc.want)
			}
		})
	}
}
