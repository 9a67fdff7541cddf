package app

import (
	"context"

	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/steps"
)

// revoke takes the SIM's access away for good: the current certificate and
// one being issued go REVOKED. A certificate being issued that IoT Core
// does not know yet is dropped (it never left the record); one it knows
// joins Retiring, to be detached when the SIM gets a fresh certificate.
func (d *Deactivator) revoke(ctx context.Context, rec *simrec.Record) error {
	if rec.Cert != nil {
		if _, err := d.Certificates.Revoke(ctx, rec.Cert.ID); err != nil {
			return steps.Wrap(StepRevoke, err)
		}
	}
	if next := rec.Next; next != nil {
		known, err := d.Certificates.Revoke(ctx, next.ID)
		if err != nil {
			return steps.Wrap(StepRevoke, err)
		}
		if known {
			arn := next.ARN // an own-CA certificate's ARN is recorded only once it is current
			if arn == "" {
				if arn, err = d.Certificates.ARN(ctx, next.ID); err != nil {
					return steps.Wrap(StepRevoke, err)
				}
			}
			rec.Retire(arn)
		}
	}
	rec.Revoke()
	return nil
}
