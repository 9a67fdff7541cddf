package oncesim

import (
	"fmt"

	"github.com/simbridge/simbridge/libs/onceapi"
)

// SIMPatch is the body of PATCH /admin/sims/{iccid}; nil fields stay unchanged, and an empty
// IPAddress is kept (a SIM without IP is a case sim-poller must handle).
type SIMPatch struct {
	Status    *string `json:"status,omitempty"`
	IPAddress *string `json:"ip_address,omitempty"`
}

// Patch applies p to one SIM atomically and returns the SIM as it is now served.
func (inv *Inventory) Patch(iccid string, p SIMPatch) (onceapi.SIM, error) {
	if p.Status == nil && p.IPAddress == nil {
		return onceapi.SIM{}, fmt.Errorf("%w: patch changes nothing (want status and/or ip_address)", ErrInvalidSIM)
	}
	if p.Status != nil && !validStatus(*p.Status) {
		return onceapi.SIM{}, fmt.Errorf("%w: status %q (want %s or %s)", ErrInvalidSIM, *p.Status, onceapi.StatusEnabled, onceapi.StatusDisabled)
	}
	inv.mu.Lock()
	i, found := inv.find(iccid)
	if !found {
		inv.mu.Unlock()
		return onceapi.SIM{}, fmt.Errorf("%w: %s", ErrSIMNotFound, iccid)
	}
	before := inv.sims[i]
	if p.Status != nil {
		inv.sims[i].Status = *p.Status
	}
	if p.IPAddress != nil {
		inv.sims[i].IPAddress = *p.IPAddress
	}
	after := inv.sims[i]
	inv.mu.Unlock()
	inv.changed(&before, &after)
	return after, nil
}

// validStatus reports whether status is one 1NCE uses.
func validStatus(status string) bool {
	return status == onceapi.StatusEnabled || status == onceapi.StatusDisabled
}
