package app

import (
	"context"

	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/steps"
)

// disable takes the SIM's access away until it is enabled again: the
// current certificate and one being issued go INACTIVE (a revoked SIM's
// certificate stays REVOKED, never touched again), then the record says
// disabled.
func (d *Deactivator) disable(ctx context.Context, rec *simrec.Record) error {
	revoked := rec.CurrentState() == simrec.StateRevoked
	for _, c := range []*simrec.Credentials{rec.Cert, rec.Next} {
		if c == nil || (revoked && c == rec.Cert) {
			continue
		}
		if err := d.Certificates.Deactivate(ctx, c.ID); err != nil {
			return steps.Wrap(StepDeactivate, err)
		}
	}
	rec.Disable()
	return nil
}
