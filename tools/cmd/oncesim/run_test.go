package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRunServesAndStops(t *testing.T) {
	t.Setenv("ONCESIM_PASSWORD", "pw")
	tests := []struct {
		name     string
		args     []string
		wantPath string
	}{
		{name: "default base path", args: []string{"-listen", "127.0.0.1:0"}, wantPath: "/management-api"},
		{name: "empty base path, all interfaces", args: []string{"-listen", ":0", "-base-path", ""}, wantPath: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			pr, pw := io.Pipe()
			done := make(chan error, 1)
			go func() { done <- run(ctx, tt.args, pw); _ = pw.Close() }()
			line, err := bufio.NewReader(pr).ReadString('\n')
			if err != nil {
				t.Fatalf("read listening line: %v (run: %v)", err, <-done)
			}
			url := strings.TrimPrefix(strings.TrimSpace(line), "oncesim listening on ")
			if !strings.HasPrefix(url, "http://127.0.0.1:") || !strings.HasSuffix(url, tt.wantPath) {
				t.Fatalf("line %q: want http://127.0.0.1:<port>%s", line, tt.wantPath)
			}
			go func() { _, _ = io.Copy(io.Discard, pr) }()
			checkToken(t, url)
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("run: %v", err)
				}
			case <-time.After(6 * time.Second):
				t.Fatal("run did not stop within the shutdown bound")
			}
		})
	}
}

// checkToken asks the running binary for a token.
func checkToken(t *testing.T, api string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, api+"/oauth/token", strings.NewReader(`{"grant_type":"client_credentials"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("demo@example.com", "pw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token: status %d", resp.StatusCode)
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{name: "bad ip pattern", args: []string{"-password", "p", "-ip-pattern", "1.2.3"}},
		{name: "too many SIMs for the pattern", args: []string{"-password", "p", "-count", "300"}},
		{name: "bad base path", args: []string{"-password", "p", "-base-path", "/admin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(t.Context(), tt.args, io.Discard)
			if exitCode(err) != 2 {
				t.Fatalf("run = %v (exit %d), want exit 2", err, exitCode(err))
			}
		})
	}
}

func TestRunMissingInventoryFile(t *testing.T) {
	err := run(t.Context(), []string{"-password", "p", "-inventory-file", t.TempDir() + "/none.json"}, io.Discard)
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "none.json") {
		t.Fatalf("run = %v (exit %d), want exit 1 naming the file", err, exitCode(err))
	}
}
