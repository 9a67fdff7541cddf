package config

import (
	"encoding/json"
	"log/slog"
)

const redacted = "[redacted]"

// Secret is a configuration value that must never be printed: it renders as
// "[redacted]" through fmt, slog and JSON. Call Reveal where the value is used.
type Secret string

// Reveal returns the secret value itself, for the one place that needs it.
func (s Secret) Reveal() string { return string(s) }

// IsSet reports whether a value was given, without revealing it.
func (s Secret) IsSet() bool { return s != "" }

// String masks the value so that fmt never prints it.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString masks the value for %#v.
func (s Secret) GoString() string { return s.String() }

// LogValue masks the value in slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON masks the value when a struct holding it is encoded.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }
