package testkit

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// Fault is what a FaultProxy does to matching requests.
type Fault struct {
	// Operation matches the AWS operation: the X-Amz-Target suffix of JSON
	// protocols ("PutItem", "Encrypt"), the IoT operation name
	// ("RegisterCertificate", see IoTOperation) or, for REST protocols,
	// "METHOD /path-prefix" ("POST /keys-and-certificate"). "IoT" matches
	// every IoT control-plane operation.
	Operation string
	// Every applies the fault to every n-th matching request (1 = all).
	Every int
	// Rate applies it to each matching request with this probability
	// instead (drawn from the proxy's seeded generator).
	Rate float64
	// Times stops after this many applications (0 = no limit).
	Times int
	// Status and Code answer with an AWS error (e.g. 400 ThrottlingException,
	// 500 InternalFailure).
	Status int
	Code   string
	// Delay holds the request before forwarding (slow answers); with
	// DelayMax, a delay drawn between Delay and DelayMax.
	Delay, DelayMax time.Duration
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
// faults (throttling, 5xx, slow answers, resets) on chosen operations, can
// enforce account-wide quotas per operation the way AWS does, and can run a
// hook after a counted request took effect (to kill the caller right then).
type FaultProxy struct {
	URL   string
	mu    sync.Mutex
	rng   *rand.Rand
	proxy *httputil.ReverseProxy

	faults []*Fault
	quotas map[string]*rate.Limiter
	// counters of requests by operation, and of throttles answered by quota.
	requests, throttled map[string]int
	after               func(op string, body []byte) bool
}

// NewFaultProxy starts a proxy to target, closed when the test ends. Its
// random faults are drawn from a generator seeded with seed, so a failing
// run can be repeated.
func NewFaultProxy(t testing.TB, target string, seed ...uint64) *FaultProxy {
	t.Helper()
	s := uint64(1)
	if len(seed) > 0 {
		s = seed[0]
	}
	p, stop, err := StartFaultProxy(target, s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return p
}

// StartFaultProxy starts a proxy to target outside a test (benchmarks);
// stop closes it.
func StartFaultProxy(target string, seed uint64) (*FaultProxy, func(), error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, nil, err
	}
	p := &FaultProxy{proxy: httputil.NewSingleHostReverseProxy(u), rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		requests: map[string]int{}, throttled: map[string]int{}}
	p.proxy.ErrorLog = log.New(io.Discard, "", 0) // a caller that went away is no news
	srv := httptest.NewServer(http.HandlerFunc(p.serve))
	p.URL = srv.URL
	return p, srv.Close, nil
}

// Set replaces the active faults.
func (p *FaultProxy) Set(faults ...*Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = faults
}

// SetQuotas makes the proxy answer ThrottlingException when an operation is
// called faster than its account-wide rate (requests per second, burst 1
// second's worth), as AWS does at the account's quota.
func (p *FaultProxy) SetQuotas(perSecond map[string]float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.quotas = map[string]*rate.Limiter{}
	for op, rps := range perSecond {
		p.quotas[op] = rate.NewLimiter(rate.Limit(rps), max(1, int(rps)))
	}
}

// AfterRequest runs hook after each request was forwarded to the emulator
// (it took effect) and before the answer goes back; when hook returns true
// the connection is dropped instead of answering, as if the caller died.
func (p *FaultProxy) AfterRequest(hook func(op string, body []byte) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.after = hook
}

// Counts returns how many requests each operation received and how many of
// them the quotas throttled.
func (p *FaultProxy) Counts() (requests, throttled map[string]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	requests, throttled = map[string]int{}, map[string]int{}
	for k, v := range p.requests {
		requests[k] = v
	}
	for k, v := range p.throttled {
		throttled[k] = v
	}
	return requests, throttled
}

// decide counts the request and picks what happens to it.
func (p *FaultProxy) decide(r *http.Request, body []byte) (op string, f *Fault, throttle bool, delay time.Duration, after func(string, []byte) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	op = operationOf(r, body)
	p.requests[op]++
	if l, ok := p.quotas[op]; ok && !l.Allow() {
		p.throttled[op]++
		return op, nil, true, 0, p.after
	}
	for _, candidate := range p.faults {
		if !candidate.matches(op, r) {
			continue
		}
		n := candidate.seen.Add(1)
		if f != nil || (candidate.Times > 0 && candidate.applied.Load() >= int64(candidate.Times)) {
			continue
		}
		fire := n%int64(max(candidate.Every, 1)) == 0
		if candidate.Rate > 0 {
			fire = p.rng.Float64() < candidate.Rate
		}
		if fire {
			candidate.applied.Add(1)
			f = candidate
		}
	}
	if f != nil {
		delay = f.Delay
		if f.DelayMax > f.Delay {
			delay += time.Duration(p.rng.Int64N(int64(f.DelayMax - f.Delay)))
		}
	}
	return op, f, false, delay, p.after
}

func (f *Fault) matches(op string, r *http.Request) bool {
	raw := r.Method + " " + r.URL.Path
	switch {
	case f.Operation == op:
		return true
	case f.Operation == "IoT":
		return isIoT(r)
	case strings.HasSuffix(op, "."+f.Operation):
		return true
	default:
		return strings.HasPrefix(raw, f.Operation) || strings.HasPrefix(op, f.Operation)
	}
}

func (p *FaultProxy) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	op, f, throttle, delay, after := p.decide(r, body)
	if throttle {
		awsError(w, http.StatusBadRequest, "ThrottlingException", "Rate exceeded (account quota enforced by the fault proxy)")
		return
	}
	time.Sleep(delay)
	if f == nil || (f.Status == 0 && !f.Reset) || f.AfterForward {
		rec := httptest.NewRecorder()
		p.proxy.ServeHTTP(rec, r)
		if after != nil && after(op, body) {
			hangUp(w)
			return
		}
		if f == nil || (f.Status == 0 && !f.Reset) {
			copyResponse(w, rec)
			return
		}
	}
	if f.Reset {
		hangUp(w)
		return
	}
	awsError(w, f.Status, f.Code, "injected by the fault proxy")
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func hangUp(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	w.WriteHeader(http.StatusBadGateway)
}

func awsError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"__type":%q,"message":%q}`, code, msg)
}

// operationOf names a request's AWS operation: the X-Amz-Target of JSON
// protocols ("DynamoDB_20120810.PutItem"), the IoT operation name for IoT's
// REST API, the Action of query protocols (SNS), else "METHOD /path".
func operationOf(r *http.Request, body []byte) string {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		return t
	}
	if op := IoTOperation(r.Method, r.URL.Path); op != "" {
		return op
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		if form, err := url.ParseQuery(string(body)); err == nil && form.Get("Action") != "" {
			return form.Get("Action")
		}
	}
	return r.Method + " " + r.URL.Path
}

// iotRoutes maps IoT's REST routes (method, first path segment, segment
// count, last segment) to operation names, for the operations simbridge calls.
var iotRoutes = []struct {
	method, first string
	segments      int
	last, op      string
}{
	{"POST", "keys-and-certificate", 1, "", "CreateKeysAndCertificate"},
	{"POST", "certificate", 2, "register", "RegisterCertificate"},
	{"POST", "certificate", 2, "register-no-ca", "RegisterCertificateWithoutCA"},
	{"PUT", "certificates", 2, "", "UpdateCertificate"},
	{"GET", "certificates", 2, "", "DescribeCertificate"},
	{"DELETE", "certificates", 2, "", "DeleteCertificate"},
	{"GET", "certificates", 1, "", "ListCertificates"},
	{"PUT", "target-policies", 2, "", "AttachPolicy"},
	{"POST", "target-policies", 2, "", "DetachPolicy"},
	{"POST", "attached-policies", 2, "", "ListAttachedPolicies"},
	{"PUT", "things", 3, "principals", "AttachThingPrincipal"},
	{"DELETE", "things", 3, "principals", "DetachThingPrincipal"},
	{"GET", "things", 3, "principals", "ListThingPrincipals"},
	{"POST", "things", 2, "", "CreateThing"},
	{"GET", "things", 2, "", "DescribeThing"},
	{"PATCH", "things", 2, "", "UpdateThing"},
	{"GET", "principals", 2, "things", "ListPrincipalThings"},
	{"PUT", "thing-groups", 2, "addThingToThingGroup", "AddThingToThingGroup"},
	{"GET", "registrationcode", 1, "", "GetRegistrationCode"},
	{"POST", "cacertificate", 1, "", "RegisterCACertificate"},
	{"GET", "cacertificate", 2, "", "DescribeCACertificate"},
	{"GET", "cacertificates", 1, "", "ListCACertificates"},
}

// IoTOperation names an IoT control-plane request, "" for other requests.
func IoTOperation(method, path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, rt := range iotRoutes {
		if rt.method == method && segs[0] == rt.first && len(segs) == rt.segments && (rt.last == "" || segs[len(segs)-1] == rt.last) {
			return rt.op
		}
	}
	return ""
}

func isIoT(r *http.Request) bool { return IoTOperation(r.Method, r.URL.Path) != "" }

// IsIoTOperation reports whether a counted operation name is one of IoT's.
func IsIoTOperation(op string) bool {
	for _, rt := range iotRoutes {
		if rt.op == op {
			return true
		}
	}
	return false
}
