package ports

import (
	"regexp"

	"github.com/labstack/echo/v4"
)

// validRequestID is what an incoming X-Request-Id must look like to be kept:
// the gateway sends its own id so one request has one id in both services'
// logs; anything else is replaced by a fresh one.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func sanitizeRequestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header
		if id := h.Get(echo.HeaderXRequestID); id != "" && !validRequestID.MatchString(id) {
			h.Del(echo.HeaderXRequestID)
		}
		return next(c)
	}
}
