package simstore

import (
	"fmt"

	"github.com/simbridge/simbridge/libs/simip"
	"github.com/simbridge/simbridge/libs/simrec"
)

// normalizeIP stores every SIM IP in its one spelling (libs/simip), so the
// onboarding lookup and conflict checks compare like with like.
func normalizeIP(r *simrec.Record) error {
	if r.IP == "" {
		return nil
	}
	ip, err := simip.Normalize(r.IP)
	if err != nil {
		return fmt.Errorf("write sim %s: %w", r.ICCID, err)
	}
	r.IP = ip
	return nil
}
