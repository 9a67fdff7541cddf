package ports

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/simbridge/simbridge/libs/config"
)

// KeyRing holds the API keys accepted now: the current one and, during a
// rotation, the previous or pending one. Refresh re-reads them (rate-limited)
// so a key the gateway already switched to is learnt on its first use.
type KeyRing interface {
	Accepted() []config.Secret
	Refresh(ctx context.Context) (bool, error)
}

// requireAPIKey rejects requests without one of the accepted keys, comparing
// in constant time so the key cannot be guessed byte by byte. An unknown key
// triggers one rate-limited refresh before the request is refused.
func requireAPIKey(header string, keys KeyRing, logger *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			got := []byte(c.Request().Header.Get(header))
			if accepted(got, keys.Accepted()) {
				return next(c)
			}
			if len(got) > 0 {
				refreshed, err := keys.Refresh(c.Request().Context())
				if err != nil {
					logger.Warn("API key refresh failed", "request_id", c.Response().Header().Get(echo.HeaderXRequestID), "error", err)
				}
				if refreshed && accepted(got, keys.Accepted()) {
					return next(c)
				}
			}
			c.Set(outcomeKey, "unauthorized")
			return c.JSON(http.StatusUnauthorized, message{msgUnauthorized})
		}
	}
}

// accepted compares got with every key, always all of them, in constant time.
func accepted(got []byte, keys []config.Secret) bool {
	ok := 0
	for _, k := range keys {
		ok |= subtle.ConstantTimeCompare(got, []byte(k.Reveal()))
	}
	return ok == 1 && len(got) > 0
}
