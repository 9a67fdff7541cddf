package oncesim

import (
	"fmt"
	"maps"
	"sync"
)

// faultEngine holds the rules and decides which one, if any, applies to a request.
type faultEngine struct {
	mu    sync.Mutex
	rules []FaultState
}

// set validates and replaces all rules, resetting their counters.
func (e *faultEngine) set(faults []Fault) error {
	rules := make([]FaultState, len(faults))
	for i, f := range faults {
		if err := f.Validate(); err != nil {
			return fmt.Errorf("fault %d: %w", i, err)
		}
		f.SetHeaders = maps.Clone(f.SetHeaders)
		rules[i] = FaultState{Fault: f}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rules = rules
	return nil
}

// list returns a copy of the rules and their counters.
func (e *faultEngine) list() []FaultState {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]FaultState, len(e.rules))
	for i, r := range e.rules {
		r.SetHeaders = maps.Clone(r.SetHeaders)
		out[i] = r
	}
	return out
}

// pick counts a request to endpoint (for page of the listing or one SIM's iccid) against every
// rule watching it and returns the first rule whose window (after Skip, within Times) the
// request falls in.
func (e *faultEngine) pick(endpoint string, page int, iccid string) (Fault, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var chosen *FaultState
	for i := range e.rules {
		r := &e.rules[i]
		if r.Match != endpoint || !r.watches(page, iccid) {
			continue
		}
		r.Matched++
		if chosen == nil && r.due() {
			chosen = r
		}
	}
	if chosen == nil {
		return Fault{}, false
	}
	chosen.Applied++
	return chosen.Fault, true
}

// due reports whether the request just counted falls in the rule's window.
func (r *FaultState) due() bool {
	return r.Matched > r.Skip && (r.Times == 0 || r.Matched <= r.Skip+r.Times)
}
