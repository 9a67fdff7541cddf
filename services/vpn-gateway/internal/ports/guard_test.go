package ports_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRateLimitPerIP(t *testing.T) {
	t.Parallel()
	g := defaultGuard()
	g.RatePerIP, g.BurstPerIP = 0.1, 3
	gw := newGateway(t, g, &upstream{})
	tests := []struct {
		name, ip string
		want     int
	}{
		{"first of the burst", "127.0.1.1", 200},
		{"second", "127.0.1.1", 200},
		{"third", "127.0.1.1", 200},
		{"beyond the burst", "127.0.1.1", 429},
		{"another device is not affected", "127.0.1.2", 200},
	}
	for _, tc := range tests {
		resp, _ := call(t, from(tc.ip), http.MethodGet, gw+"/device-api/onboarding", nil)
		if resp.StatusCode != tc.want {
			t.Fatalf("%s: got %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
		if tc.want == 429 && resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s: no Retry-After", tc.name)
		}
	}
}

func TestConcurrencyCap(t *testing.T) {
	t.Parallel()
	g := defaultGuard()
	g.MaxConcurrent = 2
	up := &upstream{block: make(chan struct{})}
	gw := newGateway(t, g, up)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			if resp, _ := call(t, from("127.0.2."+string(rune('1'+i))), http.MethodGet, gw+"/device-api/onboarding", nil); resp.StatusCode != 200 {
				t.Errorf("held request: %d", resp.StatusCode)
			}
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		up.mu.Lock()
		n := len(up.headers)
		up.mu.Unlock()
		if n == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	resp, _ := call(t, from("127.0.2.9"), http.MethodGet, gw+"/device-api/onboarding", nil)
	close(up.block)
	wg.Wait()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("request beyond the cap: %d, want 503", resp.StatusCode)
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	gw := newGateway(t, defaultGuard(), &upstream{})
	tests := []struct {
		name string
		size int
		want int
	}{
		{"small body", 10, 200},
		{"oversized body", 4096, 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(http.MethodGet, gw+"/device-api/onboarding", strings.NewReader(strings.Repeat("x", tc.size)))
			resp, err := from("127.0.3.1").Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("got %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}
