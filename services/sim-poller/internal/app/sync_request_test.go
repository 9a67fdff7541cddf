package app_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
)

// fakeFull answers full syncs from a list of errors, one per call (the
// last repeats), counting calls.
type fakeFull struct {
	mu    sync.Mutex
	errs  []error
	calls int
	plans int
}

// Plan answers a dry run like Sync, counting it apart.
func (f *fakeFull) Plan(ctx context.Context) (app.Summary, error) {
	sum, err := f.Sync(ctx, false)
	f.mu.Lock()
	f.calls--
	f.plans++
	f.mu.Unlock()
	sum.DryRun = true
	return sum, err
}

func (f *fakeFull) Sync(context.Context, bool) (app.Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.errs[min(f.calls, len(f.errs)-1)]
	f.calls++
	return app.Summary{Listed: 7}, err
}

type fakeTargets struct{ err error }

func (f fakeTargets) SyncSIMs(_ context.Context, ids []string, _ time.Time) (app.TargetSummary, error) {
	return app.TargetSummary{Requested: len(ids)}, f.err
}

func (f fakeTargets) PlanSIMs(_ context.Context, ids []string, _ time.Time) (app.TargetSummary, error) {
	return app.TargetSummary{Requested: len(ids), DryRun: true}, f.err
}

// fakeResults keeps the stored results, or fails with err.
type fakeResults struct {
	got map[string]app.Result
	err error
}

func (f *fakeResults) Put(_ context.Context, id string, r app.Result) error {
	if f.err != nil {
		return f.err
	}
	f.got[id] = r
	return nil
}

func TestSyncRequests(t *testing.T) {
	t.Parallel()
	busy := fmt.Errorf("%w on another replica", app.ErrRunInProgress)
	tests := []struct {
		name     string
		req      events.SyncRequest
		full     []error
		targets  error
		canceled bool
		// wantStatus is the result's; retry whether the request comes back.
		wantStatus string
		retry      bool
		wantRuns   int
		check      func(t *testing.T, res app.Result, waited time.Duration)
	}{
		{name: "targeted request done", req: events.SyncRequest{ID: "r1", ICCIDs: []string{iccid(1)}}, full: []error{nil},
			wantStatus: app.ResultDone, check: func(t *testing.T, res app.Result, _ time.Duration) {
				if sum, ok := res.Summary.(app.TargetSummary); !ok || sum.Requested != 1 {
					t.Errorf("summary %+v", res.Summary)
				}
			}},
		{name: "targeted request 1NCE could not fully answer comes back", req: events.SyncRequest{ID: "r2", ICCIDs: []string{iccid(1)}},
			full: []error{nil}, targets: app.ErrLookupFailed, wantStatus: app.ResultFailed, retry: true},
		{name: "full request done", req: events.SyncRequest{ID: "r3"}, full: []error{nil}, wantStatus: app.ResultDone, wantRuns: 1},
		{name: "full request whose run failed is answered, not retried", req: events.SyncRequest{ID: "r4"}, full: []error{app.ErrGuardRefused},
			wantStatus: app.ResultFailed, wantRuns: 1, check: func(t *testing.T, res app.Result, _ time.Duration) {
				if !errors.Is(res.Err, app.ErrGuardRefused) {
					t.Errorf("err %v", res.Err)
				}
			}},
		{name: "full request waits for the run in progress, then runs", req: events.SyncRequest{ID: "r5"}, full: []error{busy, busy, nil},
			wantStatus: app.ResultDone, wantRuns: 3, check: func(t *testing.T, _ app.Result, waited time.Duration) {
				if waited == 0 {
					t.Error("no wait between the attempts")
				}
			}},
		{name: "full request still blocked after its wait is answered failed", req: events.SyncRequest{ID: "r6"}, full: []error{busy},
			wantStatus: app.ResultFailed, check: func(t *testing.T, res app.Result, waited time.Duration) {
				if res.Err == nil || !strings.Contains(res.Err.Error(), "still in progress after waiting") || waited > time.Minute {
					t.Errorf("err %v after waiting %v (limit 1m)", res.Err, waited)
				}
				if sum, ok := res.Summary.(app.Summary); !ok || sum.Error == "" {
					t.Errorf("summary %+v: want the reason in it", res.Summary)
				}
			}},
		{name: "a lookup (targeted dry run) 1NCE could not fully answer is answered, not retried",
			req: events.SyncRequest{ID: "r8", ICCIDs: []string{iccid(1)}, DryRun: true}, full: []error{nil}, targets: app.ErrLookupFailed,
			wantStatus: app.ResultFailed, check: func(t *testing.T, res app.Result, _ time.Duration) {
				if sum, ok := res.Summary.(app.TargetSummary); !ok || !sum.DryRun {
					t.Errorf("summary %+v: want the dry run's", res.Summary)
				}
			}},
		{name: "a full dry run plans, it does not sync", req: events.SyncRequest{ID: "r9", DryRun: true}, full: []error{nil},
			wantStatus: app.ResultDone, check: func(t *testing.T, res app.Result, _ time.Duration) {
				if sum, ok := res.Summary.(app.Summary); !ok || !sum.DryRun {
					t.Errorf("summary %+v: want the plan's", res.Summary)
				}
			}},
		{name: "full request stopped by shutdown comes back", req: events.SyncRequest{ID: "r7"}, full: []error{app.ErrInterrupted},
			canceled: true, wantStatus: app.ResultFailed, retry: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			full := &fakeFull{errs: tc.full}
			r, err := app.NewRequests(full, fakeTargets{err: tc.targets}, &fakeResults{got: map[string]app.Result{}}, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			clock := newFakeClock()
			r.Clock = clock
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.canceled {
				cancel()
			}
			res, err := r.Run(ctx, tc.req, clock.Now())
			if res.Status != tc.wantStatus || errors.Is(err, app.ErrRetry) != tc.retry || (err != nil) != tc.retry {
				t.Fatalf("status %q, err %v; want %q, retry %v", res.Status, err, tc.wantStatus, tc.retry)
			}
			if tc.wantRuns > 0 && full.calls != tc.wantRuns {
				t.Fatalf("%d runs, want %d", full.calls, tc.wantRuns)
			}
			if tc.check != nil {
				tc.check(t, res, clock.total())
			}
		})
	}
}

func TestSyncRequestResults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		storeErr error
		res      app.Result
		retry    bool
	}{
		{name: "stored with the time it finished", res: app.Result{Status: app.ResultDone}},
		{name: "a result that cannot be stored brings the request back", storeErr: errors.New("throttled"), res: app.Result{Status: app.ResultDone}, retry: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			results := &fakeResults{got: map[string]app.Result{}, err: tc.storeErr}
			r, err := app.NewRequests(&fakeFull{errs: []error{nil}}, fakeTargets{}, results, 0)
			if err != nil {
				t.Fatal(err)
			}
			clock := newFakeClock()
			r.Clock = clock
			err = r.Record(context.Background(), "req", tc.res)
			if errors.Is(err, app.ErrRetry) != tc.retry {
				t.Fatalf("err = %v, retry %v", err, tc.retry)
			}
			if !tc.retry && !results.got["req"].FinishedAt.Equal(clock.Now()) {
				t.Fatalf("stored %+v", results.got["req"])
			}
		})
	}
}

func TestGiveUpKeepsTheLastSummary(t *testing.T) {
	t.Parallel()
	cause := errors.New("failed 5 times")
	tests := []struct {
		name string
		last app.Result
		want string
	}{
		{name: "a request that never ran says why", want: "map[error:failed 5 times]"},
		{name: "a request that ran keeps what it did", last: app.Result{Status: app.ResultDone, Summary: "last run"}, want: "last run"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := app.GiveUp(tc.last, cause)
			if got.Status != app.ResultFailed || got.Err != cause || fmt.Sprint(got.Summary) != tc.want || !got.FinishedAt.IsZero() {
				t.Fatalf("%+v", got)
			}
		})
	}
}

func TestNewRequestsNeedsItsParts(t *testing.T) {
	t.Parallel()
	if _, err := app.NewRequests(nil, fakeTargets{}, &fakeResults{}, 0); err == nil {
		t.Fatal("requests without a full syncer")
	}
}
