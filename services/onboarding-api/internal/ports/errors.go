package ports

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"
)

// message is the reference's error body, {"message":"…"}.
type message struct {
	Message string `json:"message"`
}

// unexpected is the reference's 500 body; the request id lets an operator
// find the one log line that says what went wrong.
type unexpected struct {
	Message   string `json:"message"`
	RequestID string `json:"requestId"`
}

// errorHandler answers every unexpected error with the reference's 500 body
// and the request id, and logs it once.
func errorHandler(logger *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		var he *echo.HTTPError
		if errors.As(err, &he) && he.Code < 500 {
			_ = c.JSON(he.Code, message{http.StatusText(he.Code)})
			return
		}
		id := c.Response().Header().Get(echo.HeaderXRequestID)
		logger.Error("request failed", "request_id", id, "path", c.Request().URL.Path, "error", err)
		_ = c.JSON(http.StatusInternalServerError, unexpected{Message: msgUnexpected, RequestID: id})
	}
}
