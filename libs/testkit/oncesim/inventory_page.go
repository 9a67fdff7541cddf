package oncesim

import "github.com/simbridge/simbridge/libs/onceapi"

// page copies one page (1-based) of at most size SIMs and returns it with the total count, read
// under one lock so the headers and the body agree. A page past the end is empty, not nil.
func (inv *Inventory) page(page, size int) ([]onceapi.SIM, int) {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	total := len(inv.sims)
	if page-1 >= (total+size-1)/size {
		return []onceapi.SIM{}, total
	}
	lo := (page - 1) * size
	hi := min(lo+size, total)
	out := make([]onceapi.SIM, hi-lo)
	copy(out, inv.sims[lo:hi])
	return out, total
}
