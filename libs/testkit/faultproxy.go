package testkit

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Fault is what a FaultProxy does to matching requests.
type Fault struct {
	// Operation matches the AWS operation: the X-Amz-Target suffix of JSON
	// protocols ("PutItem", "Encrypt") or, for REST protocols such as IoT,
	// "METHOD /path-prefix" ("POST /keys-and-certificate").
	Operation string
	// Every applies the fault to every n-th matching request (1 = all).
	Every int
	// Times stops after this many applications (0 = no limit).
	Times int
	// Status and Code answer with an AWS error (e.g. 400 ThrottlingException,
	// 429 ThrottlingException for IoT, 500 InternalFailure).
	Status int
	Code   string
	// Delay holds the request before forwarding (slow answers).
	Delay time.Duration
	// Reset closes the connection without answering.
	Reset bool
	// AfterForward applies Status/Reset after the emulator executed the
	// request: the call took effect but the client sees a failure.
	AfterForward bool

	seen, applied atomic.Int64
}

// Applied is how often the fault fired.
func (f *Fault) Applied() int64 { return f.applied.Load() }

// FaultProxy sits between the services and the emulator and injects AWS
// faults (throttling, 5xx, slow answers, resets) on chosen operations.
type FaultProxy struct {
	URL    string
	mu     sync.Mutex
	faults []*Fault
	proxy  *httputil.ReverseProxy
}

// NewFaultProxy starts a proxy to target, closed when the test ends.
func NewFaultProxy(t testing.TB, target string) *FaultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &FaultProxy{proxy: httputil.NewSingleHostReverseProxy(u)}
	srv := httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// Set replaces the active faults.
func (p *FaultProxy) Set(faults ...*Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = faults
}

func (p *FaultProxy) match(r *http.Request) *Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	op := operationOf(r)
	var fired *Fault
	for _, f := range p.faults {
		if !strings.HasPrefix(op, f.Operation) && !strings.HasSuffix(op, "."+f.Operation) {
			continue
		}
		n := f.seen.Add(1)
		every := int64(max(f.Every, 1))
		if fired != nil || n%every != 0 || (f.Times > 0 && f.applied.Load() >= int64(f.Times)) {
			continue
		}
		f.applied.Add(1)
		fired = f
	}
	return fired
}

func operationOf(r *http.Request) string {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		return t
	}
	return r.Method + " " + r.URL.Path
}

func (p *FaultProxy) serve(w http.ResponseWriter, r *http.Request) {
	f := p.match(r)
	if f == nil {
		p.proxy.ServeHTTP(w, r)
		return
	}
	time.Sleep(f.Delay)
	if f.AfterForward {
		p.proxy.ServeHTTP(discard{header: http.Header{}}, r)
	} else if f.Status == 0 && !f.Reset {
		p.proxy.ServeHTTP(w, r)
		return
	}
	if f.Reset {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", f.Code)
	w.WriteHeader(f.Status)
	fmt.Fprintf(w, `{"__type":%q,"message":"injected by the fault proxy"}`, f.Code)
}

// discard is a ResponseWriter that drops the emulator's answer.
type discard struct{ header http.Header }

func (d discard) Header() http.Header         { return d.header }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}
