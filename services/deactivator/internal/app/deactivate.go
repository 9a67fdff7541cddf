// Package app holds the deactivator's use case: take a SIM's access away.
//
// The certificate is set INACTIVE before the record is marked inactive, so a
// crash in between is repaired by redelivery (the record still says active);
// the other order could leave an ACTIVE certificate behind an inactive record.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/steps"
)

// Steps of deactivation, named in failure notifications and metrics.
const (
	StepLoad       = "load record"
	StepDeactivate = "deactivate certificate"
	StepRecord     = "record inactive"
)

// Store reads and conditionally writes SIM records.
type Store interface {
	Get(ctx context.Context, iccid string) (simstore.Record, error)
	Update(ctx context.Context, r simstore.Record) (simstore.Record, error)
}

// Certificates changes a certificate's status in IoT Core.
type Certificates interface {
	SetActive(ctx context.Context, certID string, active bool) error
}

// Notifier announces the outcome.
type Notifier interface {
	Success(ctx context.Context, iccid, ip, msg string) error
	Failure(ctx context.Context, iccid, ip, msg string) error
}

// Deactivator handles disable commands.
type Deactivator struct {
	store    Store
	certs    Certificates
	notifier Notifier
	logger   *slog.Logger
	now      func() time.Time
}

// New returns a deactivator.
func New(store Store, certs Certificates, notifier Notifier, logger *slog.Logger) *Deactivator {
	return &Deactivator{store: store, certs: certs, notifier: notifier, logger: logger, now: time.Now}
}

// Handle disables the SIM named by cmd. A disable of a SIM the store does not
// know ends with one failure notification instead of being retried forever.
func (d *Deactivator) Handle(ctx context.Context, cmd events.SimCommand) error {
	if cmd.Kind != events.KindDisable {
		return fmt.Errorf("%w: deactivator got a %s command", events.ErrInvalidCommand, cmd.Kind)
	}
	rec, err := d.store.Get(ctx, cmd.ICCID)
	if errors.Is(err, simstore.ErrNotFound) {
		d.logger.Warn("disable of an unknown SIM", "iccid", cmd.ICCID)
		return d.notifier.Failure(ctx, cmd.ICCID, cmd.IP, "SIM disable failed: no record for this SIM")
	}
	if err != nil {
		return steps.Wrap(StepLoad, err)
	}
	if cmd.BaseVersion > 0 && cmd.BaseVersion < rec.Version {
		d.logger.Info("stale disable ignored", "iccid", cmd.ICCID, "base_version", cmd.BaseVersion, "record_version", rec.Version)
		return nil
	}
	if rec.CertificateID != "" {
		if err := d.certs.SetActive(ctx, rec.CertificateID, false); err != nil {
			return steps.Wrap(StepDeactivate, err)
		}
	}
	if !rec.Active {
		return nil
	}
	rec.Active = false
	if cmd.Status != "" {
		rec.Status = cmd.Status
	}
	if _, err := d.store.Update(ctx, rec); err != nil {
		return steps.Wrap(StepRecord, err)
	}
	if err := d.notifier.Success(ctx, rec.ICCID, rec.IP, events.MessageDisabled); err != nil {
		d.logger.Error("success notification not sent", "iccid", rec.ICCID, "error", err)
	}
	return nil
}
