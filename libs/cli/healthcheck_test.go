package cli

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"
)

func TestRequested(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args []string
		want bool
	}{
		{"flag", []string{"-healthcheck"}, true},
		{"double dash", []string{"--healthcheck"}, true},
		{"no args", nil, false},
		{"other flag", []string{"-h"}, false},
		{"extra args", []string{"-healthcheck", "x"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := healthcheckRequested(c.args); got != c.want {
				t.Fatalf("Requested(%q) = %v", c.args, got)
			}
		})
	}
}

func TestURL(t *testing.T) {
	t.Parallel()
	cases := []struct {
		addr, want string
		wantErr    bool
	}{
		{":9090", "http://127.0.0.1:9090/healthz", false},
		{"0.0.0.0:9191", "http://127.0.0.1:9191/healthz", false},
		{"[::]:9090", "http://127.0.0.1:9090/healthz", false},
		{"127.0.0.1:0", "", true},
		{"9090", "", true},
	}
	for _, c := range cases {
		t.Run(c.addr, func(t *testing.T) {
			t.Parallel()
			got, err := LoopbackURL(c.addr, "/healthz")
			if (err != nil) != c.wantErr || got != c.want {
				t.Fatalf("URL(%q) = %q, %v", c.addr, got, err)
			}
		})
	}
}

func TestProbe(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		status  int
		wantErr bool
	}{
		{"healthy", http.StatusOK, false},
		{"unhealthy", http.StatusServiceUnavailable, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(c.status) }))
			defer srv.Close()
			if err := Probe(context.Background(), srv.URL); (err != nil) != c.wantErr {
				t.Fatalf("Probe: %v", err)
			}
		})
	}
	if err := Probe(context.Background(), "http://127.0.0.1:1/healthz"); err == nil {
		t.Fatal("nothing listening must fail")
	}
}

// TestMainExitCode runs Main in a child process, as the container runtime
// runs `<binary> -healthcheck`, against a listener set through OPS_ADDR.
func TestMainExitCode(t *testing.T) {
	if os.Getenv("HEALTHCHECK_CHILD") == "1" {
		os.Exit(healthcheckMain())
	}
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	cases := []struct {
		name, opsAddr string
		wantOK        bool
	}{
		{"serving", ":" + port, true},
		{"nothing listening", "127.0.0.1:1", false},
		{"bad address", "nonsense", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestMainExitCode$")
			cmd.Env = append(os.Environ(), "HEALTHCHECK_CHILD=1", "OPS_ADDR="+c.opsAddr)
			err := cmd.Run()
			if ok := err == nil; ok != c.wantOK {
				t.Fatalf("exit ok = %v (%v), want %v", ok, err, c.wantOK)
			}
		})
	}
}
