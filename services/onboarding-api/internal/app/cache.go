package app

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/sync/singleflight"
)

// MaxCacheTTL bounds how long an answer may be reused: a SIM whose record
// changes (disabled, IP moved, certificate replaced) stops getting the old
// answer at most this long after the change became visible to the lookup.
const MaxCacheTTL = time.Second

// loadTimeout bounds one shared load of an IP's answer.
const loadTimeout = 10 * time.Second

// Cache outcomes reported to the observer.
const (
	CacheHit    = "hit"    // answered from memory
	CacheMiss   = "miss"   // looked up in the store
	CacheShared = "shared" // joined a lookup already running for the IP
)

// CachedOnboarding answers repeated lookups of one IP from memory for at most
// ttl (≤ MaxCacheTTL). A modem downloading its answer in Range chunks, or a
// fleet retrying after a reboot, then costs one query and one KMS decrypt per
// IP and TTL instead of one per request, and every chunk of one download comes
// from the same answer. Concurrent lookups of one IP share a single load.
// Errors other than "no credentials" are never cached.
type CachedOnboarding struct {
	next    Onboarder
	entries *expirable.LRU[netip.Addr, result]
	ttl     time.Duration
	flight  singleflight.Group
	observe func(outcome string)
}

// Onboarder is the use case being cached.
type Onboarder interface {
	ForIP(ctx context.Context, ip netip.Addr) (Credentials, error)
}

// result is one answer and when the read behind it started: its age counts
// from there, so the TTL bounds staleness even when a load was slow.
type result struct {
	creds    Credentials
	err      error
	loadedAt time.Time
}

// NewCached wraps next with a cache of at most size answers kept for ttl;
// observe (may be nil) hears CacheHit, CacheMiss or CacheShared per lookup.
func NewCached(next Onboarder, size int, ttl time.Duration, observe func(string)) (*CachedOnboarding, error) {
	if ttl <= 0 || ttl > MaxCacheTTL {
		return nil, fmt.Errorf("cache TTL %v: want more than 0 and at most %v", ttl, MaxCacheTTL)
	}
	if size <= 0 {
		return nil, fmt.Errorf("cache size %d: want at least 1", size)
	}
	if observe == nil {
		observe = func(string) {}
	}
	return &CachedOnboarding{next: next, entries: expirable.NewLRU[netip.Addr, result](size, nil, ttl), ttl: ttl, observe: observe}, nil
}

// ForIP answers from the cache or loads and remembers the answer.
func (c *CachedOnboarding) ForIP(ctx context.Context, ip netip.Addr) (Credentials, error) {
	if r, ok := c.entries.Get(ip); ok && time.Since(r.loadedAt) < c.ttl {
		c.observe(CacheHit)
		return r.creds, r.err
	}
	loaded := false
	v, err, _ := c.flight.Do(ip.String(), func() (any, error) {
		loaded = true
		start := time.Now()
		// The load serves every waiter, so one caller going away must not
		// cancel it; it is bounded on its own instead.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
		defer cancel()
		creds, err := c.next.ForIP(lctx, ip)
		if err == nil || errors.Is(err, ErrNoCredentials) {
			c.entries.Add(ip, result{creds: creds, err: err, loadedAt: start})
		}
		return creds, err
	})
	if loaded {
		c.observe(CacheMiss)
	} else {
		c.observe(CacheShared)
	}
	creds, _ := v.(Credentials)
	return creds, err
}
