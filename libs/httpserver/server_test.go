package httpserver_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/httpserver"
)

func TestServeFinishesInFlightRequestOnShutdown(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := httpserver.Listen(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(200 * time.Millisecond)
		_, _ = io.WriteString(w, "done")
	})
	served := make(chan error, 1)
	go func() { served <- httpserver.Serve(ctx, ln, h, httpserver.Options{ShutdownTimeout: 2 * time.Second}) }()

	body := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String())
		if err != nil {
			body <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body <- string(b)
	}()
	<-started
	cancel()
	if got := <-body; got != "done" {
		t.Fatalf("in-flight request got %q", got)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve returned %v after clean shutdown", err)
	}
	if _, err := http.Get("http://" + ln.Addr().String()); err == nil {
		t.Fatal("server still accepts after shutdown")
	}
}

func TestServeGivesUpAfterShutdownTimeout(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	ln, _ := httpserver.Listen(ctx, "127.0.0.1:0")
	started := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
	})
	served := make(chan error, 1)
	go func() {
		served <- httpserver.Serve(ctx, ln, h, httpserver.Options{ShutdownTimeout: 100 * time.Millisecond})
	}()
	go func() { _, _ = http.Get("http://" + ln.Addr().String()) }()
	<-started
	begin := time.Now()
	cancel()
	if err := <-served; err == nil {
		t.Fatal("want an error when in-flight work outlives the shutdown timeout")
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Fatalf("shutdown took %v, not bounded", d)
	}
}

func TestServeTLS(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ts := httptest.NewTLSServer(http.NotFoundHandler()) // for its test certificate and trusting client
	defer ts.Close()
	ln, _ := httpserver.Listen(ctx, "127.0.0.1:0")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Proto+" tls="+fmt.Sprint(r.TLS != nil))
	})
	go func() {
		_ = httpserver.Serve(ctx, ln, h, httpserver.Options{TLSConfig: &tls.Config{Certificates: ts.TLS.Certificates}})
	}()
	resp, err := ts.Client().Get("https://" + ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.HasSuffix(string(b), "tls=true") {
		t.Fatalf("got %q", b)
	}
}
