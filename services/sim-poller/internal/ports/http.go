// Package ports is what calls sim-poller: POST /sync over HTTP, the
// schedule, the sync-request queue's handler and the Data Streamer
// receiver. Each decodes, calls a use case and answers.
package ports

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
)

// Syncer runs one reconciliation.
type Syncer interface {
	Sync(ctx context.Context, force bool) (app.Summary, error)
}

// ErrShutdown is the cause of a request's context ending because sim-poller
// is stopping (SIGTERM).
var ErrShutdown = errors.New("sim-poller is shutting down")

// NewHTTP returns the admin API: POST /sync[?force=true] runs a sync now and
// answers with its summary; the status says how the run went:
//
//	200 the run succeeded
//	400 force is not true or false
//	409 a run is in progress here or on another replica (nothing done)
//	422 the mass-disable guard refused the run's disables; check the 1NCE
//	    account, then POST /sync?force=true
//	502 the run failed: 1NCE's listing failed or did not add up, 1NCE could
//	    not confirm absent SIMs, the store or a queue failed (no disable
//	    that was not proven; the summary's error says what)
//	503 sim-poller is shutting down: the run stopped, nothing more was published
//	504 the run hit SYNC_TIMEOUT and stopped
//
// Only a 200 is a successful sync (and only it logs "sync done").
func NewHTTP(s Syncer, logger *slog.Logger) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.POST("/sync", func(c echo.Context) error {
		force, err := parseForce(c.QueryParam("force"))
		if err != nil {
			return c.JSON(http.StatusBadRequest, map[string]string{"message": err.Error()})
		}
		sum, err := s.Sync(c.Request().Context(), force)
		switch {
		case errors.Is(err, app.ErrRunInProgress):
			return c.JSON(http.StatusConflict, map[string]string{"message": err.Error()})
		case err != nil:
			logger.Error("sync failed", "trigger", "http", "force", force, "error", err, "summary", sum)
			return c.JSON(failureStatus(err), sum)
		}
		logger.Info("sync done", "trigger", "http", "force", force, "summary", sum)
		return c.JSON(http.StatusOK, sum)
	})
	return e
}

// failureStatus is the status of a run that was not a success (see NewHTTP).
func failureStatus(err error) int {
	switch {
	case errors.Is(err, ErrShutdown):
		return http.StatusServiceUnavailable
	case errors.Is(err, app.ErrInterrupted) && errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(err, app.ErrGuardRefused):
		return http.StatusUnprocessableEntity
	default:
		return http.StatusBadGateway
	}
}

// EndAtShutdown ends every request's context once stop ends, with
// ErrShutdown as the cause. The server's own shutdown only waits for
// requests; without this a POST /sync in flight would keep its run going
// until the shutdown deadline cut its connection, and the lease would be
// left to expire. With it the run stops, answers its interrupted summary
// (503) and releases the lease.
func EndAtShutdown(stop context.Context, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancelCause(r.Context())
		defer cancel(nil)
		unhook := context.AfterFunc(stop, func() { cancel(ErrShutdown) })
		defer unhook()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

func parseForce(v string) (bool, error) {
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errors.New("force must be true or false")
	}
	return b, nil
}
