package service_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
)

// An enabled SIM is announced in the reference's JSON on the success topic
// and on the MQTT topic "registration"; an IP change only on the topic.
func TestOutcomesAreAnnouncedOnSNSAndMQTT(t *testing.T) {
	t.Parallel()
	a := newAccount(t, bootstrap.Options{})
	successes := testkit.SubscribeInbox(t, a.cfg, a.res.SuccessTopicARN)
	testkit.StartRecording(t, a.endpoint)
	startProvisioner(t, a, options{workers: 1})
	id := iccid(40)
	before := time.Now().UnixMilli()
	publish(t, a, create(id, "10.9.0.40"))
	allActive(t, a, []string{id}, time.Minute)
	rec, err := a.check.Record(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	publish(t, a, events.SimCommand{Kind: events.KindUpdate, ICCID: id, IP: "10.9.0.41", Status: "Enabled",
		BaseVersion: rec.Version, BaseCommand: rec.LastCommand, ObservedAt: time.Now()})
	drained(t, a)

	var notes []events.Notification
	for _, body := range successes.Drain(t, 2*time.Second) {
		var n events.Notification
		if err := json.Unmarshal([]byte(body), &n); err != nil {
			t.Fatalf("notification %q is not JSON: %v", body, err)
		}
		notes = append(notes, n)
	}
	if len(notes) != 2 || notes[0].Message != events.MessageEnabled || notes[1].Message != events.MessageUpdated ||
		notes[0].ICCID != id || notes[0].IP != "10.9.0.40" || notes[1].IP != "10.9.0.41" || notes[0].Timestamp < before {
		t.Fatalf("success notifications %+v, want SIM enabled then SIM updated for %s", notes, id)
	}
	var mqtt []string
	for _, r := range testkit.Recording(t, a.endpoint) {
		if r.Method == "POST" && strings.Contains(r.URL, "/topics/registration") {
			mqtt = append(mqtt, r.Body)
		}
	}
	if len(mqtt) == 0 {
		t.Fatal("nothing published to the MQTT topic registration")
	}
	var reg events.Notification
	if err := json.Unmarshal([]byte(mqtt[0]), &reg); err != nil || reg != notes[0] {
		t.Fatalf("registration message %q (%v), want the success JSON %+v", mqtt[0], err, notes[0])
	}
	for _, body := range mqtt {
		if strings.Contains(body, events.MessageUpdated) {
			t.Fatalf("an IP change was published to registration: %s", body)
		}
	}
}
