package ports_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRateLimitPerIP(t *testing.T) {
	t.Parallel()
	g := defaultGuard()
	g.RatePerIP, g.BurstPerIP = 0.1, 3
	gw, obs := newObservedGateway(t, g, &upstream{})
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
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if !slices.Equal(obs.codes, []int{200, 200, 200, 429, 200}) || !slices.Equal(obs.rejected, []string{"rate_limited"}) {
		t.Errorf("observer heard %v, refusals %v", obs.codes, obs.rejected)
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
	chunked := func(sizes ...int) string {
		var b strings.Builder
		for _, n := range sizes {
			fmt.Fprintf(&b, "%x\r\n%s\r\n", n, strings.Repeat("x", n))
		}
		return b.String() + "0\r\n\r\n"
	}
	tests := []struct {
		name, head, body string
		want             int
	}{
		{"small body", "Content-Length: 10\r\n", strings.Repeat("x", 10), 200},
		{"body at the limit", "Content-Length: 1024\r\n", strings.Repeat("x", 1024), 200},
		{"oversized body", "Content-Length: 4096\r\n", strings.Repeat("x", 4096), 413},
		{"small chunked body", "Transfer-Encoding: chunked\r\n", chunked(10), 200},
		{"chunked body at the limit", "Transfer-Encoding: chunked\r\n", chunked(1000, 24), 200},
		{"oversized chunked body", "Transfer-Encoding: chunked\r\n", chunked(4096), 413},
		{"oversized body in small chunks", "Transfer-Encoding: chunked\r\n", chunked(500, 500, 500), 413},
		{"one byte over the limit, chunked", "Transfer-Encoding: chunked\r\n", chunked(1024, 1), 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := "GET /device-api/onboarding HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n" + tc.head + "\r\n" + tc.body
			if got := rawStatus(t, gw, "127.0.3.1", req); got != tc.want {
				t.Fatalf("got %d, want %d", got, tc.want)
			}
		})
	}
}

// An HTTP/1.0 request has no close-delimited body (RFC 9112 §6.3): bytes
// after its head without Content-Length are not a body, so there is nothing
// for the body limit to count, and the request is answered as it is.
func TestHTTP10RequestHasNoUnframedBody(t *testing.T) {
	t.Parallel()
	gw := newGateway(t, defaultGuard(), &upstream{})
	req := "GET /device-api/onboarding HTTP/1.0\r\nHost: gw\r\n\r\n" + strings.Repeat("x", 4096)
	if got := rawStatus(t, gw, "127.0.3.2", req); got != 200 {
		t.Fatalf("got %d, want 200", got)
	}
}

// MAX_HEADER_BYTES counts the request line and every header field as sent
// ("Name: value" CRLF, Host included, final CRLF): a head of exactly the
// limit passes, one byte more is 431.
func TestHeaderLimit(t *testing.T) {
	t.Parallel()
	g := defaultGuard()
	g.MaxHeaderBytes = 2048
	gw := newGateway(t, g, &upstream{})
	head := func(total int) string {
		start := "GET /device-api/onboarding HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nX-Padding: "
		pad := total - len(start) - len("\r\n\r\n")
		return start + strings.Repeat("a", pad) + "\r\n\r\n"
	}
	tests := []struct {
		name string
		size int
		want int
	}{
		{"well within", 500, 200},
		{"exactly the limit", 2048, 200},
		{"one byte over", 2049, http.StatusRequestHeaderFieldsTooLarge},
		{"within net/http's own slack", 2048 + 3000, http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := head(tc.size)
			if len(req) != tc.size {
				t.Fatalf("test built a %d-byte head, want %d", len(req), tc.size)
			}
			if got := rawStatus(t, gw, "127.0.3.3", req); got != tc.want {
				t.Fatalf("got %d, want %d", got, tc.want)
			}
		})
	}
}

// rawStatus sends req as written from the loopback address ip, so the test
// controls framing byte for byte, and returns the answer's status code.
func rawStatus(t *testing.T, gwURL, ip, req string) int {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", strings.TrimPrefix(gwURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() { _, _ = io.WriteString(c, req) }() // the server may answer before reading it all
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	defer resp.Body.Close()
	return resp.StatusCode
}
