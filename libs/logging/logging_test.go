package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/simbridge/simbridge/libs/logging"
)

func TestRedactsSensitiveKeys(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := logging.New(&buf, "svc", slog.LevelInfo)
	logger.Info("hello", "password", "hunter2", "access_token", "abc", "privateKey", "PEM", "x-api-key", "k", "iccid", "8988")
	out := buf.String()
	for _, leak := range []string{"hunter2", `"abc"`, "PEM", `"k"`} {
		if strings.Contains(out, leak) {
			t.Errorf("log leaks %s: %s", leak, out)
		}
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if m["iccid"] != "8988" || m["service"] != "svc" {
		t.Errorf("ordinary fields lost: %v", m)
	}
}

func TestParseLevel(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want slog.Level
		ok   bool
	}{{"debug", slog.LevelDebug, true}, {"INFO", slog.LevelInfo, true}, {"warn", slog.LevelWarn, true}, {"loud", 0, false}} {
		got, err := logging.ParseLevel(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseLevel(%q) = %v, %v", tc.in, got, err)
		}
	}
}

func TestContextCarriesLogger(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := logging.New(&buf, "svc", slog.LevelInfo).With("request_id", "r1")
	logging.FromContext(logging.WithContext(context.Background(), logger)).Info("x")
	if !strings.Contains(buf.String(), `"request_id":"r1"`) {
		t.Fatalf("context logger not used: %s", buf.String())
	}
}

func TestConfigGroupIsMaskedByTypeNotByName(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logging.New(&buf, "svc", slog.LevelInfo).Info("starting", slog.Group(logging.ConfigGroup, "API_KEY_HEADER", "x-api-key"))
	if !strings.Contains(buf.String(), `"API_KEY_HEADER":"x-api-key"`) {
		t.Fatalf("setting names that merely mention keys must stay readable: %s", buf.String())
	}
}
