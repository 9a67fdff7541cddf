// Package app holds the provisioner's use case: make a SIM onboardable.
//
// Every step is idempotent and the record is written last, so a crash at any
// point followed by redelivery converges on exactly one ACTIVE certificate
// attached to the SIM's Thing, referenced by its record. Certificates an
// interrupted attempt attached to a Thing this system manages, but never
// recorded, are found by listing the Thing's principals and retired.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/iotcore"
	"github.com/simbridge/simbridge/libs/simstore"
)

// Store reads and conditionally writes SIM records.
type Store interface {
	Get(ctx context.Context, iccid string) (simstore.Record, error)
	Create(ctx context.Context, r simstore.Record) (simstore.Record, error)
	Update(ctx context.Context, r simstore.Record) (simstore.Record, error)
}

// IoT performs the IoT Core steps.
type IoT interface {
	EnsureThing(ctx context.Context, name string) (managed bool, err error)
	CreateCertificate(ctx context.Context) (iotcore.Certificate, error)
	Attach(ctx context.Context, thing, policy, certARN string) error
	SetActive(ctx context.Context, certID string, active bool) error
	ThingPrincipals(ctx context.Context, thing string) ([]string, error)
	Retire(ctx context.Context, thing, certARN string) error
}

// Sealer encrypts a private key for one SIM.
type Sealer interface {
	Seal(ctx context.Context, iccid string, plaintext []byte) ([]byte, error)
}

// Announcer tells the world a SIM changed: SNS success topic and the MQTT
// registration topic.
type Announcer interface {
	Announce(ctx context.Context, n events.Notification) error
}

// Provisioner handles create and update commands.
type Provisioner struct {
	store     Store
	iot       IoT
	sealer    Sealer
	announcer Announcer
	policy    string
	logger    *slog.Logger
	now       func() time.Time
}

// New returns a provisioner attaching policy to every certificate.
func New(store Store, iot IoT, sealer Sealer, announcer Announcer, policy string, logger *slog.Logger) *Provisioner {
	return &Provisioner{store: store, iot: iot, sealer: sealer, announcer: announcer, policy: policy, logger: logger, now: time.Now}
}

// Handle brings the SIM to the state cmd describes.
func (p *Provisioner) Handle(ctx context.Context, cmd events.SimCommand) error {
	if cmd.Kind == events.KindDisable {
		return fmt.Errorf("%w: provisioner got a disable command", events.ErrInvalidCommand)
	}
	rec, err := p.store.Get(ctx, cmd.ICCID)
	if errors.Is(err, simstore.ErrNotFound) {
		return p.create(ctx, cmd)
	}
	if err != nil {
		return err
	}
	if stale(cmd, rec) {
		p.logger.Info("stale command ignored", "iccid", cmd.ICCID, "base_version", cmd.BaseVersion, "record_version", rec.Version)
		return nil
	}
	switch {
	case !rec.Active:
		return p.reenable(ctx, cmd, rec)
	case rec.IP != cmd.IP:
		return p.changeIP(ctx, cmd, rec)
	}
	return nil
}

// stale reports whether the record changed after the command was computed.
// A command computed without a record (base 0) is never stale: it converges.
func stale(cmd events.SimCommand, rec simstore.Record) bool {
	return cmd.BaseVersion > 0 && cmd.BaseVersion < rec.Version
}

func (p *Provisioner) create(ctx context.Context, cmd events.SimCommand) error {
	thing := cmd.ICCID
	managed, err := p.iot.EnsureThing(ctx, thing)
	if err != nil {
		return err
	}
	if err := p.retireStrays(ctx, thing, managed, ""); err != nil {
		return err
	}
	cert, err := p.iot.CreateCertificate(ctx)
	if err != nil {
		return err
	}
	rec, err := p.activate(ctx, cmd, thing, cert)
	if err != nil {
		return err
	}
	if _, err := p.store.Create(ctx, rec); err != nil {
		if errors.Is(err, simstore.ErrConflict) {
			return p.lostRace(ctx, thing, cert, err)
		}
		return err
	}
	return p.announce(ctx, cmd, events.MessageEnabled)
}

// activate attaches and activates a new certificate and returns the record
// that will point at it, with the key sealed.
func (p *Provisioner) activate(ctx context.Context, cmd events.SimCommand, thing string, cert iotcore.Certificate) (simstore.Record, error) {
	if err := p.iot.Attach(ctx, thing, p.policy, cert.ARN); err != nil {
		return simstore.Record{}, err
	}
	if err := p.iot.SetActive(ctx, cert.ID, true); err != nil {
		return simstore.Record{}, err
	}
	sealed, err := p.sealer.Seal(ctx, cmd.ICCID, []byte(cert.PrivateKey))
	if err != nil {
		return simstore.Record{}, err
	}
	return simstore.Record{
		ICCID: cmd.ICCID, IP: cmd.IP, Active: true, Status: cmd.Status, ThingName: thing,
		CertificateID: cert.ID, CertificateARN: cert.ARN, CertificatePEM: cert.PEM, PrivateKeyCiphertext: sealed,
	}, nil
}

// lostRace retires the certificate of an attempt whose record write lost to
// another one, then fails so the message is retried against the winner.
func (p *Provisioner) lostRace(ctx context.Context, thing string, cert iotcore.Certificate, cause error) error {
	if err := p.iot.Retire(ctx, thing, cert.ARN); err != nil {
		return errors.Join(cause, err)
	}
	return cause
}

// reenable reactivates the SIM's existing certificate (the device may still
// hold it) rather than minting a new one, and retires any stray certificate.
func (p *Provisioner) reenable(ctx context.Context, cmd events.SimCommand, rec simstore.Record) error {
	if !rec.HasCredentials() {
		return fmt.Errorf("record of %s has no credentials", rec.ICCID)
	}
	managed, err := p.iot.EnsureThing(ctx, rec.ThingName)
	if err != nil {
		return err
	}
	if err := p.retireStrays(ctx, rec.ThingName, managed, rec.CertificateARN); err != nil {
		return err
	}
	if err := p.iot.Attach(ctx, rec.ThingName, p.policy, rec.CertificateARN); err != nil {
		return err
	}
	if err := p.iot.SetActive(ctx, rec.CertificateID, true); err != nil {
		return err
	}
	rec.Active, rec.IP, rec.Status = true, cmd.IP, cmd.Status
	if _, err := p.store.Update(ctx, rec); err != nil {
		return err
	}
	return p.announce(ctx, cmd, events.MessageEnabled)
}

// changeIP moves the SIM to its new address; its credentials stay.
func (p *Provisioner) changeIP(ctx context.Context, cmd events.SimCommand, rec simstore.Record) error {
	rec.IP, rec.Status = cmd.IP, cmd.Status
	if _, err := p.store.Update(ctx, rec); err != nil {
		return err
	}
	return p.announce(ctx, cmd, events.MessageUpdated)
}

// retireStrays retires certificates on a managed thing other than keep:
// left by attempts that crashed before writing the record.
func (p *Provisioner) retireStrays(ctx context.Context, thing string, managed bool, keep string) error {
	if !managed {
		return nil
	}
	principals, err := p.iot.ThingPrincipals(ctx, thing)
	if err != nil {
		return err
	}
	for _, arn := range principals {
		if arn == keep {
			continue
		}
		p.logger.Warn("retiring stray certificate", "thing", thing, "certificate_arn", arn)
		if err := p.iot.Retire(ctx, thing, arn); err != nil {
			return err
		}
	}
	return nil
}

func (p *Provisioner) announce(ctx context.Context, cmd events.SimCommand, msg string) error {
	n := events.NewNotification(p.now(), cmd.ICCID, cmd.IP, msg)
	if err := p.announcer.Announce(ctx, n); err != nil {
		// The SIM is provisioned; a lost announcement must not undo or repeat that.
		p.logger.Error("announcement not sent", "iccid", cmd.ICCID, "error", err)
	}
	return nil
}
