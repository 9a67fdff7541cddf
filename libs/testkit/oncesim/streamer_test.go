package oncesim_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/testkit/oncesim"
)

// receiver is a Data Streamer endpoint that records what it got; it
// answers fail (e.g. 503) to the first failures requests.
type receiver struct {
	mu       sync.Mutex
	bodies   [][]onceapi.StreamRecord
	garbage  int
	unauth   int
	failures int
	fail     int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if u, p, ok := r.BasicAuth(); !ok || u != "streamer" || p != "pw" {
		rc.unauth++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if rc.failures > 0 {
		rc.failures--
		w.WriteHeader(rc.fail)
		return
	}
	b, _ := io.ReadAll(r.Body)
	var recs []onceapi.StreamRecord
	if err := json.Unmarshal(b, &recs); err != nil {
		rc.garbage++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.bodies = append(rc.bodies, recs)
}

// events returns the event descriptions received, batch by batch.
func (rc *receiver) events() [][]string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out [][]string
	for _, b := range rc.bodies {
		var kinds []string
		for _, r := range b {
			if r.EventType != nil {
				kinds = append(kinds, r.EventType.Description+" "+r.SIM.ICCID)
			} else {
				kinds = append(kinds, "usage "+r.SIM.ICCID)
			}
		}
		out = append(out, kinds)
	}
	return out
}

// streamingSim is a simulator whose streamer posts to a recording receiver.
func streamingSim(t *testing.T, rc *receiver, edit func(*oncesim.StreamConfig)) *testSim {
	t.Helper()
	hs := httptest.NewServer(rc)
	t.Cleanup(hs.Close)
	s := startSim(t, 2, nil)
	t.Cleanup(s.srv.Close)
	cfg := oncesim.StreamConfig{URL: hs.URL + "/datastreamer", User: "streamer", Password: "pw", IntervalMS: 50}
	if edit != nil {
		edit(&cfg)
	}
	st, err := s.admin.SetStreamer(context.Background(), cfg)
	if err != nil || !st.Enabled || st.Password != "***" {
		t.Fatalf("set streamer: %+v %v", st, err)
	}
	return s
}

// settle waits until the streamer has nothing pending.
func settle(t *testing.T, s *testSim) oncesim.StreamState {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := s.admin.Streamer(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.Pending == 0 || time.Now().After(deadline) {
			return st
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStreamerPostsTheEventsOfAdminChanges(t *testing.T) {
	t.Parallel()
	rc := &receiver{}
	s := streamingSim(t, rc, nil)
	ctx := context.Background()
	sims, _ := s.admin.ListSIMs(ctx)
	a, b := sims[0].ICCID, sims[1].ICCID
	steps := []func() error{
		func() error {
			return s.admin.AddSIMs(ctx, onceapi.SIM{ICCID: "8988280666999000001", IPAddress: "10.9.0.1"})
		},
		func() error { return s.admin.SetStatus(ctx, a, onceapi.StatusDisabled) },
		func() error { return s.admin.SetStatus(ctx, a, onceapi.StatusEnabled) },
		func() error { return s.admin.SetIP(ctx, b, "10.9.0.2") },
		func() error { return s.admin.RemoveSIM(ctx, b) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	st := settle(t, s)
	var got []string
	for _, batch := range rc.events() {
		got = append(got, batch...)
	}
	want := []string{
		"SIM added 8988280666999000001", "Create PDP Context 8988280666999000001",
		"SIM suspension " + a, "SIM activation " + a, "Create PDP Context " + a,
		"IP address changed " + b, "Create PDP Context " + b, "SIM deletion " + b,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || st.Records != int64(len(want)) || st.Pending != 0 {
		t.Fatalf("events\n got %v\nwant %v\nstate %+v", got, want, st)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	ids := map[onceapi.RecordID]bool{}
	for _, b := range rc.bodies {
		for _, r := range b {
			if r.ID == "" || ids[r.ID] || r.Timestamp == "" || r.Endpoint == nil {
				t.Fatalf("record %+v: want a unique id, a timestamp and the endpoint", r)
			}
			ids[r.ID] = true
		}
	}
}

func TestStreamerRetriesUntilAcknowledged(t *testing.T) {
	t.Parallel()
	rc := &receiver{failures: 3, fail: http.StatusServiceUnavailable}
	s := streamingSim(t, rc, nil)
	if err := s.admin.SetStatus(context.Background(), s.srv.Inventory().List()[0].ICCID, onceapi.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	st := settle(t, s)
	if st.Retries != 3 || st.Batches != 1 || st.LastStatus != http.StatusOK || len(rc.events()) != 1 {
		t.Fatalf("state %+v, received %v: want the batch sent again after each 503 and acknowledged once", st, rc.events())
	}
}

func TestStreamerMisbehavesOnRequest(t *testing.T) {
	t.Parallel()
	rc := &receiver{}
	// A long interval, so both changes below go out in one batch.
	s := streamingSim(t, rc, func(c *oncesim.StreamConfig) {
		c.IntervalMS, c.Duplicates, c.OutOfOrder, c.Usage, c.Garbage = 500, true, true, true, true
	})
	ctx := context.Background()
	sims := s.srv.Inventory().List()
	for _, id := range []string{sims[0].ICCID, sims[1].ICCID} {
		if err := s.admin.SetStatus(ctx, id, onceapi.StatusDisabled); err != nil {
			t.Fatal(err)
		}
	}
	st := settle(t, s)
	got := rc.events()
	// Newer half first, each part twice, with a usage record per SIM, a garbage request before each.
	want := [][]string{
		{"SIM suspension " + sims[1].ICCID, "usage " + sims[1].ICCID}, {"SIM suspension " + sims[1].ICCID, "usage " + sims[1].ICCID},
		{"SIM suspension " + sims[0].ICCID, "usage " + sims[0].ICCID}, {"SIM suspension " + sims[0].ICCID, "usage " + sims[0].ICCID},
	}
	rc.mu.Lock()
	garbage := rc.garbage
	rc.mu.Unlock()
	if fmt.Sprint(got) != fmt.Sprint(want) || st.GarbageSent != 2 || garbage != 2 {
		t.Fatalf("received %v (garbage %d, state %+v)\nwant %v", got, garbage, st, want)
	}
}

func TestStreamerConfigurationIsValidated(t *testing.T) {
	t.Parallel()
	s := startSim(t, 1, nil)
	t.Cleanup(s.srv.Close)
	ctx := context.Background()
	for _, cfg := range []oncesim.StreamConfig{
		{URL: "ftp://x/y", User: "u", Password: "p"},
		{URL: "http://127.0.0.1:1/x", User: "u"},
		{URL: "http://127.0.0.1:1/x", User: "u", Password: "p", MaxBatch: 3001},
	} {
		var apiErr *oncesim.APIError
		if _, err := s.admin.SetStreamer(ctx, cfg); !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest {
			t.Errorf("%+v: %v, want 400", cfg, err)
		}
	}
	if err := s.admin.StreamEvents(ctx, onceapi.StreamRecord{}); err == nil || !strings.Contains(err.Error(), "409") {
		t.Errorf("events while off: %v, want 409", err)
	}
}
