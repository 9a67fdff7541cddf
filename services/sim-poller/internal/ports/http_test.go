package ports_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
	"github.com/simbridge/simbridge/services/sim-poller/internal/ports"
)

type syncerFunc func(ctx context.Context, force bool) (app.Summary, error)

func (f syncerFunc) Sync(ctx context.Context, force bool) (app.Summary, error) { return f(ctx, force) }

func TestPostSync(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		query    string
		result   error
		wantCode int
		wantBody string
		wantArg  bool
	}{
		{name: "run answers its summary", wantCode: http.StatusOK, wantBody: `"listing_complete":true`},
		{name: "force reaches the run", query: "?force=true", wantCode: http.StatusOK, wantArg: true},
		{name: "bad force value", query: "?force=maybe", wantCode: http.StatusBadRequest, wantBody: "force must be"},
		{name: "run in progress elsewhere", result: app.ErrRunInProgress, wantCode: http.StatusConflict, wantBody: "already in progress"},
		{name: "failed run answers its summary with the error", result: errors.New("1NCE down"), wantCode: http.StatusBadGateway, wantBody: `"error":"1NCE down"`},
		{name: "incomplete listing is a bad gateway", result: fmt.Errorf("list: %w: saw 30 distinct ICCIDs, X-Total-Count said 32", onceapi.ErrIncomplete),
			wantCode: http.StatusBadGateway, wantBody: "X-Total-Count said 32"},
		{name: "unconfirmed absent SIMs are a bad gateway", result: fmt.Errorf("%w: first: status 500", app.ErrUnconfirmed), wantCode: http.StatusBadGateway},
		{name: "guard refusal is unprocessable until forced", result: fmt.Errorf("%w: refused to disable 6 SIMs", app.ErrGuardRefused),
			wantCode: http.StatusUnprocessableEntity, wantBody: "refused to disable 6 SIMs"},
		{name: "run stopped by shutdown", result: fmt.Errorf("%w (%w): list: canceled", app.ErrInterrupted, ports.ErrShutdown),
			wantCode: http.StatusServiceUnavailable, wantBody: "shutting down"},
		{name: "run stopped by its deadline", result: fmt.Errorf("%w (%w): list: canceled", app.ErrInterrupted, context.DeadlineExceeded),
			wantCode: http.StatusGatewayTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var gotForce bool
			h := ports.NewHTTP(syncerFunc(func(_ context.Context, force bool) (app.Summary, error) {
				gotForce = force
				sum := app.Summary{Complete: tc.result == nil}
				if tc.result != nil {
					sum.Error = tc.result.Error()
				}
				return sum, tc.result
			}), slog.New(slog.DiscardHandler))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/sync"+tc.query, nil))
			if rec.Code != tc.wantCode || !strings.Contains(rec.Body.String(), tc.wantBody) || gotForce != tc.wantArg {
				t.Fatalf("got %d %s (force %v)", rec.Code, rec.Body, gotForce)
			}
		})
	}
}

func TestGetSyncIsNotAllowed(t *testing.T) {
	t.Parallel()
	h := ports.NewHTTP(syncerFunc(func(context.Context, bool) (app.Summary, error) {
		t.Error("a GET must not run a sync")
		return app.Summary{}, nil
	}), slog.New(slog.DiscardHandler))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/sync", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET /sync = %d", rec.Code)
	}
}

func TestEndAtShutdownStopsRequestsInFlight(t *testing.T) {
	t.Parallel()
	stop, shutdown := context.WithCancel(context.Background())
	started, cause := make(chan struct{}), make(chan error, 1)
	h := ports.EndAtShutdown(stop, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
		cause <- context.Cause(r.Context())
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() { h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/sync", nil)); close(done) }()
	<-started
	shutdown()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the request outlived the shutdown")
	}
	if err := <-cause; !errors.Is(err, ports.ErrShutdown) || rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("cause %v, status %d; want ErrShutdown and the handler's answer", err, rec.Code)
	}
}
