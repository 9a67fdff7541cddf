// Package adapters connects the provisioner's use cases to what they call
// beyond the libraries' clients, in their own terms: IoT Core (iot.go), the
// certificate authorities (authority.go) and the announcements on SNS and
// MQTT (announcer.go).
package adapters

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"

	"github.com/simbridge/simbridge/libs/events"
)

// Notifier publishes success notifications.
type Notifier interface {
	Success(ctx context.Context, iccid, ip, msg string) error
}

// DataPlane publishes MQTT messages through IoT Core.
type DataPlane interface {
	Publish(ctx context.Context, in *iotdataplane.PublishInput, opts ...func(*iotdataplane.Options)) (*iotdataplane.PublishOutput, error)
}

// Announcer sends a success notification to SNS and, for enabled SIMs, the
// same JSON to the MQTT registration topic, as the reference system does.
type Announcer struct {
	notifier  Notifier
	dataPlane DataPlane
	topic     string
}

// NewAnnouncer returns an announcer publishing registrations to topic.
func NewAnnouncer(n Notifier, dp DataPlane, topic string) *Announcer {
	return &Announcer{notifier: n, dataPlane: dp, topic: topic}
}

// Announce publishes n to both channels and reports every failure.
func (a *Announcer) Announce(ctx context.Context, n events.Notification) error {
	errSNS := a.notifier.Success(ctx, n.ICCID, n.IP, n.Message)
	if n.Message != events.MessageEnabled {
		return errSNS
	}
	body, err := n.Encode()
	if err == nil {
		_, err = a.dataPlane.Publish(ctx, &iotdataplane.PublishInput{Topic: aws.String(a.topic), Payload: body, Qos: 1})
	}
	if err != nil {
		err = fmt.Errorf("publish to MQTT topic %s: %w", a.topic, err)
	}
	return errors.Join(errSNS, err)
}
