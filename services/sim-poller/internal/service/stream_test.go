package service_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/secrets"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
	"github.com/simbridge/simbridge/services/sim-poller/internal/service"
)

const (
	streamUser     = "1nce-streamer"
	streamPassword = "stream-secret-password-0123456789"
)

var recordIDs atomic.Int64

// event is a Data Streamer event record of kind about iccid (with an IP
// that is never to be believed).
func event(kind, iccid string) onceapi.StreamRecord {
	return onceapi.StreamRecord{ID: onceapi.RecordID(fmt.Sprint(1_000_000 + recordIDs.Add(1))), Timestamp: time.Now().UTC().Format(time.RFC3339),
		EventType: &onceapi.StreamType{ID: 1, Description: kind}, SIM: &onceapi.StreamSIM{ICCID: iccid},
		Endpoint: &onceapi.StreamEndpoint{IPAddress: "10.66.66.66"}}
}

func usage(iccid string) onceapi.StreamRecord {
	return onceapi.StreamRecord{ID: onceapi.RecordID(fmt.Sprint(2_000_000 + recordIDs.Add(1))), SIM: &onceapi.StreamSIM{ICCID: iccid},
		TrafficType: &onceapi.StreamType{ID: 5, Description: "Data"}, StartTimestamp: "2024-01-01T00:00:00Z", Volume: json.RawMessage(`{"total":1.5}`)}
}

// receiver builds a poller with the receiver on and serves the receiver
// (only) over HTTP; edit adjusts the configuration.
func (e *env) receiver(t *testing.T, edit func(*service.Config)) (*service.Poller, string) {
	t.Helper()
	p := e.poller(t, func(c *service.Config) {
		c.SyncOnStart = false
		c.StreamAddr, c.StreamPath = "127.0.0.1:0", "/datastreamer"
		c.StreamAuth = secrets.Source{Value: streamUser + ":" + streamPassword}
		c.StreamAuthRefresh, c.StreamMaxBytes, c.StreamMaxRecords, c.StreamMaxDepth = time.Minute, 8<<20, 3000, 16
		c.StreamEventTypes = []string{onceapi.EventCreatePDPContext, onceapi.EventSIMActivation, onceapi.EventSIMSuspension, onceapi.EventSIMAdded}
		c.StreamQuietEventTypes = []string{onceapi.EventCreatePDPContext}
		c.StreamEnqueueTimeout, c.StreamMaxConcurrent = 5*time.Second, 4
		if edit != nil {
			edit(c)
		}
	})
	hs := httptest.NewServer(p.Stream)
	t.Cleanup(hs.Close)
	return p, hs.URL + "/datastreamer"
}

type answer struct {
	code int
	body string
	app.HintBatch
	header http.Header
}

// post sends body as the Data Streamer does, with Basic credentials unless user is "".
func post(t *testing.T, url, user, pass string, body []byte) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{code: resp.StatusCode, body: string(b), header: resp.Header}
	_ = json.Unmarshal(b, &a.HintBatch)
	return a
}

func records(t *testing.T, recs ...onceapi.StreamRecord) []byte {
	t.Helper()
	b, err := json.Marshal(recs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// queued drains the sync-request queue.
func (e *env) queued(t *testing.T) []events.SyncRequest {
	t.Helper()
	var out []events.SyncRequest
	for _, body := range testkit.DrainQueue(t, sqs.NewFromConfig(e.aws), e.res.SyncQueueURL, 0) {
		req, err := events.DecodeSyncRequest([]byte(body))
		if err != nil {
			t.Fatalf("queue holds a bad request: %v", err)
		}
		out = append(out, req)
	}
	return out
}

func TestReceiverAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1)
	p, url := e.receiver(t, nil)
	body := records(t, event(onceapi.EventSIMActivation, e.sim.Inventory().List()[0].ICCID))
	tests := []struct {
		name, user, pass string
		want             int
	}{
		{"no credentials", "", "", http.StatusUnauthorized},
		{"wrong password", streamUser, "wrong", http.StatusUnauthorized},
		{"password prefix", streamUser, streamPassword[:10], http.StatusUnauthorized},
		{"wrong user", "someone", streamPassword, http.StatusUnauthorized},
		{"right credentials", streamUser, streamPassword, http.StatusOK},
	}
	for _, tc := range tests {
		a := post(t, url, tc.user, tc.pass, body)
		if a.code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, a.code, a.body, tc.want)
		}
		if tc.want == http.StatusUnauthorized && !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("%s: 401 without a Basic challenge", tc.name)
		}
	}
	if got := e.queued(t); len(got) != 1 {
		t.Fatalf("queued %d requests, want only the authenticated one", len(got))
	}
	if got := metric(t, p.Registry, "simbridge_sim_poller_stream_requests_total", "401"); got != 4 {
		t.Errorf("401s counted: %v", got)
	}
	if logs := e.logs.String(); strings.Contains(logs, streamPassword) || strings.Contains(logs, "wrong") {
		t.Error("a log line holds a presented or configured password")
	}
}

// TestReceiverAcceptsARotatedPassword: the credentials are read from their
// secret's versions; a new password is accepted as soon as it is there.
func TestReceiverAcceptsARotatedPassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1)
	file := t.TempDir() + "/stream-auth"
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"username":"` + streamUser + `","password":"old-password-1234"}`)
	_, url := e.receiver(t, func(c *service.Config) { c.StreamAuth = secrets.Source{File: file} })
	body := records(t, usage(e.sim.Inventory().List()[0].ICCID))
	if a := post(t, url, streamUser, "old-password-1234", body); a.code != http.StatusOK {
		t.Fatalf("current password: %d %s", a.code, a.body)
	}
	write(streamUser + ":new-password-5678\n" + streamUser + ":old-password-1234")
	if a := post(t, url, streamUser, "new-password-5678", body); a.code != http.StatusOK {
		t.Fatalf("rotated password: %d %s", a.code, a.body)
	}
	if a := post(t, url, streamUser, "old-password-1234", body); a.code != http.StatusOK {
		t.Fatalf("previous password during the rotation: %d %s", a.code, a.body)
	}
}

func TestReceiverRefusesBadBodies(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1)
	_, url := e.receiver(t, func(c *service.Config) { c.StreamMaxBytes = 64 << 10 })
	iccid := e.sim.Inventory().List()[0].ICCID
	many := make([]onceapi.StreamRecord, 3001)
	for i := range many {
		many[i] = onceapi.StreamRecord{ID: onceapi.RecordID(fmt.Sprint(i))}
	}
	manyBody := records(t, many...)
	deep := `[{"id":1,"detail":` + strings.Repeat(`{"a":`, 20) + `1` + strings.Repeat(`}`, 20) + `}]`
	tests := []struct {
		name string
		body string
		want int
	}{
		{"not JSON", `<html>hello</html>`, http.StatusBadRequest},
		{"an object, not an array", `{"id":1,"sim":{"iccid":"` + iccid + `"}}`, http.StatusBadRequest},
		{"an array of numbers", `[1,2,3]`, http.StatusBadRequest},
		{"cut short", `[{"id":1,"event_type":{"id":3,"description":"SIM activation"},"sim":{"iccid":"` + iccid + `"}`, http.StatusBadRequest},
		{"data after the array", `[]trailing`, http.StatusBadRequest},
		{"too deep", deep, http.StatusBadRequest},
		{"too many records", compact(manyBody, 60<<10), http.StatusRequestEntityTooLarge},
		{"too large", `[` + strings.Repeat(`{"id":1},`, 10_000) + `{"id":2}]`, http.StatusRequestEntityTooLarge},
		{"empty array", `[]`, http.StatusOK},
	}
	for _, tc := range tests {
		if a := post(t, url, streamUser, streamPassword, []byte(tc.body)); a.code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, a.code, a.body, tc.want)
		}
	}
	if got := e.queued(t); len(got) != 0 {
		t.Fatalf("bad bodies queued %v", got)
	}
}

// compact returns body if it fits in limit, else fails: the test needs the
// record count, not the size, to be the limit hit.
func compact(body []byte, limit int) string {
	if len(body) > limit {
		panic(fmt.Sprintf("test body of %d bytes exceeds %d", len(body), limit))
	}
	return string(body)
}

// TestReceiverEnqueuesOnlyRelevantSIMsOnceEach: usage records and other
// event types are ignored; a batch naming SIMs many times enqueues each
// once; the same batch sent again (1NCE's retry) is deduplicated.
func TestReceiverEnqueuesOnlyRelevantSIMsOnceEach(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	sims := e.sim.Inventory().List()
	_, url := e.receiver(t, nil)
	var recs []onceapi.StreamRecord
	for range 50 {
		recs = append(recs, event(onceapi.EventCreatePDPContext, sims[0].ICCID))
	}
	recs = append(recs, event(onceapi.EventSIMSuspension, sims[1].ICCID), usage(sims[2].ICCID), event(onceapi.EventUpdateLocation, sims[2].ICCID),
		event(onceapi.EventSIMActivation, "not-an-iccid"))
	body := records(t, recs...)
	first := post(t, url, streamUser, streamPassword, body)
	again := post(t, url, streamUser, streamPassword, body)
	if first.code != http.StatusOK || again.code != http.StatusOK || first.SIMs != 2 || first.RequestID == "" || again.RequestID != first.RequestID {
		t.Fatalf("answers %d %s / %d %s", first.code, first.body, again.code, again.body)
	}
	wantRecs := map[string]int{app.RecordRelevant: 51, app.RecordUsage: 1, app.RecordIrrelevant: 1, app.RecordInvalid: 1}
	if fmt.Sprint(first.Records) != fmt.Sprint(wantRecs) {
		t.Errorf("records %v, want %v", first.Records, wantRecs)
	}
	got := e.queued(t)
	if len(got) != 1 || got[0].Source != events.SourceDataStreamer || fmt.Sprint(got[0].ICCIDs) != fmt.Sprint([]string{sims[0].ICCID, sims[1].ICCID}) {
		t.Fatalf("queued %+v: want one request for the two SIMs", got)
	}
	if only := post(t, url, streamUser, streamPassword, records(t, usage(sims[0].ICCID), event(onceapi.EventUpdateLocation, sims[0].ICCID))); only.code != http.StatusOK || only.RequestID != "" {
		t.Fatalf("irrelevant batch: %d %s", only.code, only.body)
	}
	if got := e.queued(t); len(got) != 0 {
		t.Fatalf("an irrelevant batch queued %+v", got)
	}
}

// TestReceiverAnswers503WhenItCannotEnqueue: with SQS failing the receiver
// answers 503 (1NCE sends the batch again), and the batch sent again once
// SQS is back is handled: nothing is lost.
func TestReceiverAnswers503WhenItCannotEnqueue(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1)
	proxy := testkit.NewFaultProxy(t, testkit.MotoEndpoint(t))
	direct := e.aws
	e.aws = testkit.AWSConfigFor(t, proxy.URL)
	p, url := e.receiver(t, func(c *service.Config) { c.StreamEnqueueTimeout = 3 * time.Second })
	e.aws = direct
	serve(t, p)
	sim := e.sim.Inventory().List()[0]
	body := records(t, event(onceapi.EventSIMAdded, sim.ICCID))

	outage := &testkit.Fault{Operation: "SendMessage", Every: 1, Status: 500, Code: "InternalError"}
	proxy.Set(outage)
	if a := post(t, url, streamUser, streamPassword, body); a.code != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" {
		t.Fatalf("during the outage: %d %s, want 503 with Retry-After", a.code, a.body)
	}
	proxy.Set(&testkit.Fault{Operation: "SendMessage", Every: 1, Delay: 10 * time.Second, Times: 1})
	start := time.Now()
	if a := post(t, url, streamUser, streamPassword, body); a.code != http.StatusServiceUnavailable || time.Since(start) > 8*time.Second {
		t.Fatalf("SQS hanging: %d after %v, want 503 within the enqueue timeout", a.code, time.Since(start))
	}
	proxy.Set()
	a := post(t, url, streamUser, streamPassword, body)
	if a.code != http.StatusOK {
		t.Fatalf("after the outage: %d %s", a.code, a.body)
	}
	res := e.awaitResult(t, a.RequestID, 30*time.Second)
	if res.Status != app.ResultDone {
		t.Fatalf("result %s %s", res.Status, res.Summary)
	}
	if got := describe(e.commandList(t)); len(got) != 1 || !strings.HasPrefix(got[0], "create "+sim.ICCID+" "+sim.IPAddress) {
		t.Fatalf("commands %v: want the SIM created once", got)
	}
}

// TestAnEventNeverGivesAccess: whatever an event says, the SIM is what the
// 1NCE API says: an "activation" of a SIM the API has Disabled, or does
// not hold, creates nothing; events arriving out of order end in the API's
// state.
func TestAnEventNeverGivesAccess(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	sims := e.sim.Inventory().List()
	ctx := context.Background()
	e.seed(t, 2, 3)
	if err := e.admin.SetStatus(ctx, sims[0].ICCID, onceapi.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	if err := e.admin.RemoveSIM(ctx, sims[1].ICCID); err != nil {
		t.Fatal(err)
	}
	if err := e.admin.SetStatus(ctx, sims[2].ICCID, onceapi.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	p, url := e.receiver(t, nil)
	serve(t, p)
	// Newest first: the suspension of SIM 2 arrives before its older activation.
	batches := [][]onceapi.StreamRecord{
		{event(onceapi.EventSIMActivation, sims[0].ICCID), event(onceapi.EventCreatePDPContext, sims[1].ICCID)},
		{event(onceapi.EventSIMSuspension, sims[2].ICCID)},
		{event(onceapi.EventSIMActivation, sims[2].ICCID), event(onceapi.EventCreatePDPContext, sims[2].ICCID)},
	}
	for _, b := range batches {
		a := post(t, url, streamUser, streamPassword, records(t, b...))
		if a.code != http.StatusOK {
			t.Fatalf("%d %s", a.code, a.body)
		}
		if res := e.awaitResult(t, a.RequestID, 30*time.Second); res.Status != app.ResultDone {
			t.Fatalf("result %s %s", res.Status, res.Summary)
		}
	}
	got := describe(e.commandList(t))
	want := []string{"disable " + sims[2].ICCID + " " + sims[2].IPAddress + " v1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("commands %v, want only %v: no create for a SIM the API does not list as Enabled", got, want)
	}
}

// TestReceiverAcceptsItsPathWithATrailingSlash: 1NCE's guide writes
// endpoint URLs with a trailing slash; the receiver takes its path either
// way, whichever way it was configured, and nothing else.
func TestReceiverAcceptsItsPathWithATrailingSlash(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1)
	body := records(t, usage(e.sim.Inventory().List()[0].ICCID))
	_, plain := e.receiver(t, nil)
	_, slashed := e.receiver(t, func(c *service.Config) { c.StreamPath = "/hooks/1nce/" })
	base := strings.TrimSuffix(slashed, "/datastreamer")
	tests := []struct {
		name, url string
		want      int
	}{
		{"configured path", plain, http.StatusOK},
		{"with a trailing slash", plain + "/", http.StatusOK},
		{"two trailing slashes", plain + "//", http.StatusNotFound},
		{"a longer path", plain + "x", http.StatusNotFound},
		{"a sub-path", plain + "/x", http.StatusNotFound},
		{"configured with a slash, sent without", base + "/hooks/1nce", http.StatusOK},
		{"configured with a slash, sent with", base + "/hooks/1nce/", http.StatusOK},
	}
	for _, tc := range tests {
		if a := post(t, tc.url, streamUser, streamPassword, body); a.code != tc.want {
			t.Errorf("%s (%s): %d %s, want %d", tc.name, tc.url, a.code, a.body, tc.want)
		}
	}
}

// TestReceiverClosesTheConnectionWhenItRefusesBeforeTheBody: a refusal
// given before the body is read (bad credentials, wrong path or method)
// closes the connection, so a client that sends headers and then a body
// byte by byte cannot hold the connection; an accepted request keeps it.
func TestReceiverClosesTheConnectionWhenItRefusesBeforeTheBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1)
	_, url := e.receiver(t, nil)
	host := strings.TrimPrefix(strings.TrimSuffix(url, "/datastreamer"), "http://")
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(streamUser+":"+streamPassword))
	wrong := "Basic " + base64.StdEncoding.EncodeToString([]byte(streamUser+":wrong"))
	tests := []struct {
		name, head string
		want       int
	}{
		{"no credentials, declared length", "POST /datastreamer HTTP/1.1\r\nContent-Length: 65536\r\n", http.StatusUnauthorized},
		{"wrong password, chunked", "POST /datastreamer HTTP/1.1\r\nAuthorization: " + wrong + "\r\nTransfer-Encoding: chunked\r\n", http.StatusUnauthorized},
		{"wrong path", "POST /elsewhere HTTP/1.1\r\nAuthorization: " + auth + "\r\nContent-Length: 65536\r\n", http.StatusNotFound},
		{"wrong method", "PUT /datastreamer HTTP/1.1\r\nAuthorization: " + auth + "\r\nContent-Length: 65536\r\n", http.StatusMethodNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", host)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// Headers and the first bytes of a body that never comes whole.
			if _, err := io.WriteString(conn, tc.head+"Host: "+host+"\r\n\r\n"+"[{"); err != nil {
				t.Fatal(err)
			}
			// A bound on a failure, not a wait: the answer and the close come at once.
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			r := bufio.NewReader(conn)
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != tc.want || !resp.Close {
				t.Fatalf("%d, Connection: %q; want %d and the connection closed", resp.StatusCode, resp.Header.Get("Connection"), tc.want)
			}
			if _, err := r.ReadByte(); err != io.EOF {
				t.Fatalf("the connection stays open after the refusal (%v): a slow body holds it", err)
			}
		})
	}

	// An accepted request leaves the connection open for the next one.
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := string(records(t, usage(e.sim.Inventory().List()[0].ICCID)))
	r := bufio.NewReader(conn)
	for i := range 2 {
		req := "POST /datastreamer HTTP/1.1\r\nHost: " + host + "\r\nAuthorization: " + auth + "\r\nContent-Type: application/json\r\n" +
			"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
		if _, err := io.WriteString(conn, req); err != nil {
			t.Fatalf("request %d on the same connection: %v", i+1, err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("request %d on the same connection: %v", i+1, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusOK || resp.Close {
			t.Fatalf("request %d: %d, close=%v; want 200 on a kept connection", i+1, resp.StatusCode, resp.Close)
		}
	}
}
