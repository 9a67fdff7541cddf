// Package ports exposes sim-poller's use case: POST /sync over HTTP and the schedule.
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

// NewHTTP returns the admin API: POST /sync[?force=true] runs a sync now and
// answers with its summary (200), 409 while a run is in progress here or on
// another replica, 502 if the run failed (the summary says why).
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
			return c.JSON(http.StatusBadGateway, sum)
		}
		logger.Info("sync done", "trigger", "http", "force", force, "summary", sum)
		return c.JSON(http.StatusOK, sum)
	})
	return e
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
