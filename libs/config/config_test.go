package config_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/config"
)

type nested struct {
	Token config.Secret `env:"TOKEN"`
}

type sample struct {
	URL      string        `env:"URL, required"`
	Password config.Secret `env:"PASSWORD"`
	Interval time.Duration `env:"INTERVAL, default=15m"`
	Inner    nested        `env:", prefix=INNER_"`
}

func (s *sample) Validate() error {
	if s.Interval < time.Second {
		return errors.New("INTERVAL must be at least 1s")
	}
	return nil
}

func TestLoad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, s sample)
	}{
		{
			name: "defaults and values",
			env:  map[string]string{"URL": "http://x", "PASSWORD": "hunter2", "INNER_TOKEN": "t0k"},
			check: func(t *testing.T, s sample) {
				if s.Interval != 15*time.Minute || s.Password.Reveal() != "hunter2" || s.Inner.Token.Reveal() != "t0k" {
					t.Fatalf("unexpected config %+v", s)
				}
			},
		},
		{name: "missing required", env: map[string]string{}, wantErr: "URL"},
		{name: "bad duration", env: map[string]string{"URL": "u", "INTERVAL": "soon"}, wantErr: "INTERVAL"},
		{name: "validation fails", env: map[string]string{"URL": "u", "INTERVAL": "1ms"}, wantErr: "at least 1s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var s sample
			err := config.LoadFrom(context.Background(), config.MapLookuper(tc.env), &s)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("want error containing %q, got %v", tc.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	t.Parallel()
	s := sample{URL: "http://x", Password: "hunter2", Inner: nested{Token: "t0k"}}
	var buf strings.Builder
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	logger.Info("config", "config", config.LogValue(&s), "raw", s, "pw", s.Password)
	j, _ := json.Marshal(s)
	outputs := map[string]string{
		"slog":      buf.String(),
		"fmt %v":    fmt.Sprintf("%v", s),
		"fmt %+v":   fmt.Sprintf("%+v", s),
		"fmt %#v":   fmt.Sprintf("%#v", s.Password),
		"json":      string(j),
		"fmt plain": fmt.Sprint(s.Password),
	}
	for name, out := range outputs {
		if strings.Contains(out, "hunter2") || strings.Contains(out, "t0k") {
			t.Errorf("%s leaks a secret: %s", name, out)
		}
	}
	if !strings.Contains(buf.String(), `"INNER_TOKEN":"[redacted]"`) || !strings.Contains(buf.String(), `"URL":"http://x"`) {
		t.Errorf("config not rendered by env names: %s", buf.String())
	}
}
