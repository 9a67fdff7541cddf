package loadgen_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/simbridge/simbridge/tools/loadgen"
)

func TestFleetSendsFromEachDevice(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		mu.Lock()
		seen[host]++
		mu.Unlock()
		if r.Header.Get("X-Loadgen-Source-Ip") != "" {
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	ips := loadgen.LoopbackIPs(20)
	f, err := loadgen.NewFleet(ips)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tests := []struct {
		name  string
		phase loadgen.Phase
	}{
		{"fixed rate", loadgen.Phase{Name: "fixed", URL: srv.URL, Rate: 200, Duration: 500 * time.Millisecond}},
		{"as fast as workers go", loadgen.Phase{Name: "max", URL: srv.URL, Workers: 4, Duration: 300 * time.Millisecond}},
	}
	for _, tc := range tests {
		res := f.Run(context.Background(), tc.phase)
		if res.Requests == 0 || res.Errors != 0 || res.Throughput <= 0 {
			t.Fatalf("%s: %s", tc.name, res)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, ip := range ips {
		if seen[ip] == 0 {
			t.Errorf("no request from %s (saw %v)", ip, seen)
		}
	}
}
