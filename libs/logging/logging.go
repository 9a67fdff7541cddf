// Package logging builds the JSON slog logger every binary uses, carries it in
// contexts, and redacts attributes whose names say they hold credentials, as a
// second line of defence behind config.Secret.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/simbridge/simbridge/libs/config"
)

// Settings are the logging options read from the environment.
type Settings struct {
	Level string `env:"LOG_LEVEL, default=info" desc:"debug, info, warn or error; logs are JSON lines on stdout"`
}

// FromEnv builds the logger for service from LOG_LEVEL, writing JSON to w.
func FromEnv(ctx context.Context, w io.Writer, service string) (*slog.Logger, error) {
	var s Settings
	if err := config.Load(ctx, &s); err != nil {
		return nil, err
	}
	level, err := ParseLevel(s.Level)
	if err != nil {
		return nil, err
	}
	return New(w, service, level), nil
}

// New returns a JSON logger tagged with the service name.
func New(w io.Writer, service string, level slog.Leveler) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: redact})
	return slog.New(h).With("service", service)
}

// ParseLevel accepts debug, info, warn and error.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("LOG_LEVEL %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// sensitive lists fragments of attribute names whose values are never logged.
var sensitive = []string{"password", "secret", "token", "private_key", "privatekey", "api_key", "apikey", "authorization"}

// ConfigGroup is the attribute under which services log their configuration
// (config.LogValue); it masks secrets by type, so names like API_KEY_HEADER
// are shown.
const ConfigGroup = "config"

func redact(groups []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindGroup || (len(groups) > 0 && groups[0] == ConfigGroup) {
		return a
	}
	key := strings.ReplaceAll(strings.ToLower(a.Key), "-", "_")
	for _, s := range sensitive {
		if strings.Contains(key, s) {
			return slog.String(a.Key, "[redacted]")
		}
	}
	return a
}

type ctxKey struct{}

// WithContext returns a context carrying logger, so request-scoped fields
// (request id, ICCID) follow the work.
func WithContext(ctx context.Context, logger *slog.Logger) context.Context {
	return context.WithValue(ctx, ctxKey{}, logger)
}

// FromContext returns the logger stored in ctx, or slog.Default.
func FromContext(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(ctxKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
