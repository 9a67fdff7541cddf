package oncesim

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/simbridge/simbridge/libs/onceapi"
)

// Errors of inventory changes, distinct so the admin API can map them to 404, 409 and 400.
var (
	ErrSIMNotFound = errors.New("SIM not found")
	ErrSIMExists   = errors.New("SIM already exists")
	ErrInvalidSIM  = errors.New("invalid SIM")
)

// Inventory is the simulator's SIM list, kept sorted by ICCID so that paging is stable and a page
// costs a copy of that page only. It is safe for concurrent use: tests change it while a client pages.
type Inventory struct {
	mu   sync.RWMutex
	sims []onceapi.SIM // sorted by ICCID, ICCIDs unique
	// observer hears every change after it happened (nil before: added,
	// nil after: removed); the Server streams them as Data Streamer events.
	observer func(before, after *onceapi.SIM)
}

// NewInventory builds an inventory from sims, refusing empty or duplicate ICCIDs so the
// simulator never serves an inventory the real API could not hold.
func NewInventory(sims []onceapi.SIM) (*Inventory, error) {
	inv := &Inventory{}
	if err := inv.Add(sims...); err != nil {
		return nil, err
	}
	return inv, nil
}

// Add inserts sims all or nothing, so a bulk load either fully happens or reports the first problem.
// An empty status becomes Enabled; an existing ICCID gives ErrSIMExists, bad input ErrInvalidSIM.
func (inv *Inventory) Add(sims ...onceapi.SIM) error {
	batch, err := prepareBatch(sims)
	if err != nil {
		return err
	}
	inv.mu.Lock()
	for _, s := range batch {
		if _, found := inv.find(s.ICCID); found {
			inv.mu.Unlock()
			return fmt.Errorf("%w: %s", ErrSIMExists, s.ICCID)
		}
	}
	inv.sims = mergeByICCID(inv.sims, batch)
	inv.mu.Unlock()
	for i := range batch {
		inv.changed(nil, &batch[i])
	}
	return nil
}

// changed tells the observer, outside the lock.
func (inv *Inventory) changed(before, after *onceapi.SIM) {
	if inv.observer != nil {
		inv.observer(before, after)
	}
}

// Remove deletes a SIM, as when it leaves the customer's account.
func (inv *Inventory) Remove(iccid string) error {
	inv.mu.Lock()
	i, found := inv.find(iccid)
	if !found {
		inv.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrSIMNotFound, iccid)
	}
	gone := inv.sims[i]
	inv.sims = slices.Delete(inv.sims, i, i+1)
	inv.mu.Unlock()
	inv.changed(&gone, nil)
	return nil
}

// SetStatus enables or disables a SIM, the change sim-poller must turn into enable/disable commands.
func (inv *Inventory) SetStatus(iccid, status string) error {
	_, err := inv.Patch(iccid, SIMPatch{Status: &status})
	return err
}

// SetIP changes a SIM's IP address; "" models a SIM without an IP.
func (inv *Inventory) SetIP(iccid, ip string) error {
	_, err := inv.Patch(iccid, SIMPatch{IPAddress: &ip})
	return err
}

// Get returns one SIM, so tests can check what the simulator serves.
func (inv *Inventory) Get(iccid string) (onceapi.SIM, bool) {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	i, found := inv.find(iccid)
	if !found {
		return onceapi.SIM{}, false
	}
	return inv.sims[i], true
}

// List returns a copy of all SIMs sorted by ICCID, safe to keep while the inventory changes.
func (inv *Inventory) List() []onceapi.SIM {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	out := make([]onceapi.SIM, len(inv.sims))
	copy(out, inv.sims)
	return out
}

// Len returns the number of SIMs, the X-Total-Count a listing reports.
func (inv *Inventory) Len() int {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	return len(inv.sims)
}

// find locates iccid by binary search; the caller holds the lock.
func (inv *Inventory) find(iccid string) (int, bool) {
	return slices.BinarySearchFunc(inv.sims, iccid, func(s onceapi.SIM, id string) int {
		return strings.Compare(s.ICCID, id)
	})
}
