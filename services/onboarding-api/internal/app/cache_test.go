package app_test

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/services/onboarding-api/internal/app"
)

// countingStore counts lookups and can fail them.
type countingStore struct {
	*simstore.Memory
	lookups atomic.Int64
	fail    atomic.Bool
	delay   time.Duration
}

func (s *countingStore) FindByIP(ctx context.Context, ip string) ([]simrec.Record, error) {
	s.lookups.Add(1)
	time.Sleep(s.delay)
	if s.fail.Load() {
		return nil, errors.New("store unavailable")
	}
	return s.Memory.FindByIP(ctx, ip)
}

type plainOpener struct{}

func (plainOpener) Open(_ context.Context, _ string, ct []byte) ([]byte, error) { return ct, nil }

var simIP = netip.MustParseAddr("10.1.2.3")

func newCached(t *testing.T, ttl time.Duration) (*app.CachedOnboarding, *countingStore, simrec.Record, map[string]int) {
	t.Helper()
	store := &countingStore{Memory: simstore.NewMemory()}
	rec, err := store.Create(context.Background(), simrec.Record{ICCID: "8988280666000000001", IP: simIP.String(), Active: true,
		Cert: &simrec.Credentials{PEM: "cert", KeyCiphertext: []byte("key")}})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	outcomes := map[string]int{}
	c, err := app.NewCached(app.New(store, plainOpener{}, "ep", "ca"), 100, ttl, func(o string) {
		mu.Lock()
		outcomes[o]++
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, store, rec, outcomes
}

// TestDisabledSIMStopsWithinTTL: once the record is inactive, no answer
// older than the TTL is served.
func TestDisabledSIMStopsWithinTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const ttl = 200 * time.Millisecond
	c, store, rec, _ := newCached(t, ttl)
	if _, err := c.ForIP(ctx, simIP); err != nil {
		t.Fatal(err)
	}
	rec.Active = false
	if _, err := store.Update(ctx, rec); err != nil {
		t.Fatal(err)
	}
	changed := time.Now()
	time.Sleep(ttl)
	for time.Since(changed) < 3*ttl {
		if _, err := c.ForIP(ctx, simIP); !errors.Is(err, app.ErrNoCredentials) {
			t.Fatalf("%v after the change: %v, want no credentials", time.Since(changed), err)
		}
	}
}

func TestCacheSharesLoadsAndKeepsNoErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, store, _, outcomes := newCached(t, time.Second)
	store.delay = 50 * time.Millisecond
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if creds, err := c.ForIP(ctx, simIP); err != nil || creds.PrivateKeyPEM != "key" {
				t.Errorf("got %+v %v", creds.ICCID, err)
			}
		})
	}
	wg.Wait()
	if n := store.lookups.Load(); n != 1 {
		t.Fatalf("20 concurrent requests made %d lookups, want 1", n)
	}
	if _, err := c.ForIP(ctx, simIP); err != nil || outcomes[app.CacheHit] != 1 || outcomes[app.CacheMiss] != 1 {
		t.Fatalf("outcomes %v (%v)", outcomes, err)
	}

	other := netip.MustParseAddr("10.9.9.9")
	store.fail.Store(true)
	if _, err := c.ForIP(ctx, other); err == nil || errors.Is(err, app.ErrNoCredentials) {
		t.Fatalf("store failure: %v", err)
	}
	store.fail.Store(false)
	if _, err := c.ForIP(ctx, other); !errors.Is(err, app.ErrNoCredentials) {
		t.Fatalf("after the store recovered: %v (a failure must not be cached)", err)
	}
}

func TestNewCachedRefusesLongTTL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ttl  time.Duration
		size int
		ok   bool
	}{
		{"one second", time.Second, 1, true},
		{"longer than a second", time.Second + time.Millisecond, 1, false},
		{"zero", 0, 1, false},
		{"no room", time.Second, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := app.NewCached(nil, tc.size, tc.ttl, nil); (err == nil) != tc.ok {
				t.Fatalf("err %v", err)
			}
		})
	}
}
