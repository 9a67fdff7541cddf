package adapters_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/iotcore/iotfake"
	"github.com/simbridge/simbridge/services/provisioner/internal/adapters"
)

func TestNewIoTNeedsTheClientAndThePolicy(t *testing.T) {
	t.Parallel()
	if _, err := adapters.NewIoT(iotfake.New(), "", "", ""); err == nil {
		t.Error("accepted without a policy")
	}
	if _, err := adapters.NewIoT(nil, "policy", "", ""); err == nil {
		t.Error("accepted without a client")
	}
}

// The SNS success notification goes out for every outcome, the MQTT
// registration only for enabled SIMs, as in the reference system; a failure
// of either is reported.
func TestAnnouncer(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	tests := []struct {
		name          string
		message       string
		snsErr, mqErr error
		wantMQTT      bool
		wantErr       error
	}{
		{name: "enabled: SNS and MQTT", message: events.MessageEnabled, wantMQTT: true},
		{name: "updated: SNS only", message: events.MessageUpdated},
		{name: "SNS fails, MQTT still sent", message: events.MessageEnabled, snsErr: boom, wantMQTT: true, wantErr: boom},
		{name: "MQTT fails", message: events.MessageEnabled, mqErr: boom, wantMQTT: true, wantErr: boom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sns := &snsStub{err: tc.snsErr}
			mqtt := &dataPlane{err: tc.mqErr}
			err := adapters.NewAnnouncer(sns, mqtt, "registration").Announce(context.Background(),
				events.Notification{ICCID: "8988280666000000001", IP: "10.0.0.1", Message: tc.message})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if !slices.Equal(sns.sent, []string{tc.message}) {
				t.Fatalf("SNS got %q", sns.sent)
			}
			if (mqtt.topic == "registration") != tc.wantMQTT {
				t.Fatalf("MQTT topic %q, want a registration: %v", mqtt.topic, tc.wantMQTT)
			}
		})
	}
}

type snsStub struct {
	sent []string
	err  error
}

func (s *snsStub) Success(_ context.Context, _, _, msg string) error {
	s.sent = append(s.sent, msg)
	return s.err
}

type dataPlane struct {
	topic string
	err   error
}

func (d *dataPlane) Publish(_ context.Context, in *iotdataplane.PublishInput, _ ...func(*iotdataplane.Options)) (*iotdataplane.PublishOutput, error) {
	d.topic = *in.Topic
	return &iotdataplane.PublishOutput{}, d.err
}
