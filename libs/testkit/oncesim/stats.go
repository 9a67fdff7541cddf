package oncesim

import (
	"maps"
	"sync"
)

// Stats is the body of GET /admin/stats: what the simulator has answered, so a test can assert
// how often a client retried, paged or fetched a token.
type Stats struct {
	// Requests counts API requests by endpoint ("token", "sims") and outcome: the HTTP status
	// ("200", "429"), or "reset" / "canceled" when no status was sent.
	Requests      map[string]map[string]int64 `json:"requests"`
	TokensIssued  int64                       `json:"tokens_issued"`
	FaultsApplied int64                       `json:"faults_applied"`
}

// statsCounter accumulates Stats safely across requests.
type statsCounter struct {
	mu sync.Mutex
	s  Stats
}

// newStatsCounter starts with empty counters.
func newStatsCounter() *statsCounter {
	return &statsCounter{s: Stats{Requests: map[string]map[string]int64{}}}
}

// request counts one answered request.
func (c *statsCounter) request(endpoint, outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	byOutcome := c.s.Requests[endpoint]
	if byOutcome == nil {
		byOutcome = map[string]int64{}
		c.s.Requests[endpoint] = byOutcome
	}
	byOutcome[outcome]++
}

// tokenIssued counts one issued token.
func (c *statsCounter) tokenIssued() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.TokensIssued++
}

// faultApplied counts one injected fault.
func (c *statsCounter) faultApplied() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.FaultsApplied++
}

// snapshot returns a deep copy of the counters.
func (c *statsCounter) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.s
	out.Requests = make(map[string]map[string]int64, len(c.s.Requests))
	for ep, m := range c.s.Requests {
		out.Requests[ep] = maps.Clone(m)
	}
	return out
}

// reset zeroes every counter.
func (c *statsCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s = Stats{Requests: map[string]map[string]int64{}}
}
