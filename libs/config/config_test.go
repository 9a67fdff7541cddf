package config_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/simbridge/simbridge/libs/config"
)

type nested struct {
	Token config.Secret `env:"TOKEN" desc:"token"`
}

type sample struct {
	URL      string        `env:"URL, required" desc:"where to go"`
	Password config.Secret `env:"PASSWORD" desc:"the password"`
	Interval time.Duration `env:"INTERVAL, default=15m" desc:"how often"`
	Inner    nested        `env:", prefix=INNER_" desc:"inner service"`
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
		{name: "every problem at once", env: map[string]string{"INTERVAL": "soon"}, wantErr: "invalid config (2 problems): URL: required, not set; INTERVAL: "},
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

// rich has every kind of field the services use, for comparing LoadFrom
// with go-envconfig's own processing of the whole struct.
type rich struct {
	Name    string             `env:"NAME, required"`
	Count   int                `env:"COUNT, default=3"`
	Ratio   float64            `env:"RATIO, default=0.5"`
	On      bool               `env:"ON, default=true"`
	Wait    time.Duration      `env:"WAIT, default=2s"`
	Paths   []string           `env:"PATHS, default=/a,/b"`
	Limits  map[string]float64 `env:"LIMITS, separator==, default=A=1,B=2"`
	Since   time.Time          `env:"SINCE"`
	Key     config.Secret      `env:"KEY"`
	Nested  nested             `env:", prefix=N_"`
	Pointer *nested            `env:", prefix=P_"`
	Plain   struct {
		Deep string `env:"DEEP, default=d"`
	}
	ignored string // unexported: skipped by both
}

func TestLoadFromDecodesAsEnvconfig(t *testing.T) {
	t.Parallel()
	env := map[string]string{"NAME": "n", "COUNT": "7", "PATHS": "/x", "LIMITS": "C=3", "SINCE": "2026-01-02T03:04:05Z",
		"KEY": "k", "N_TOKEN": "t1", "P_TOKEN": "t2", "DEEP": "e"}
	var got, want rich
	if err := config.LoadFrom(context.Background(), config.MapLookuper(env), &got); err != nil {
		t.Fatal(err)
	}
	if err := envconfig.ProcessWith(context.Background(), &envconfig.Config{Target: &want, Lookuper: envconfig.MapLookuper(env)}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("LoadFrom %+v\nenvconfig %+v", got, want)
	}
}

func TestLoadFromReportsEveryProblem(t *testing.T) {
	t.Parallel()
	env := map[string]string{"COUNT": "many", "WAIT": "soon", "LIMITS": "A"}
	var c rich
	err := config.LoadFrom(context.Background(), config.MapLookuper(env), &c)
	var ce *config.Error
	if !errors.As(err, &ce) || len(ce.Problems) != 4 {
		t.Fatalf("want 4 problems, got %v", err)
	}
	for _, name := range []string{"NAME: required", "COUNT: ", "WAIT: ", "LIMITS: "} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("%q missing from %v", name, err)
		}
	}
	if c.Count != 3 || c.Wait != 2*time.Second {
		t.Errorf("undecodable values should leave the defaults for validation: %+v", c)
	}
}

// checked fails validation on two settings, one of which is also undecodable.
type checked struct {
	Workers int    `env:"WORKERS, default=4"`
	Mode    string `env:"MODE, default=fast"`
}

func (c *checked) Validate() error {
	return errors.Join(fmt.Errorf("WORKERS %d: want 1-4", c.Workers), fmt.Errorf("MODE %q: want fast", c.Mode))
}

func TestValidationSkipsVariablesAlreadyReported(t *testing.T) {
	t.Parallel()
	err := config.LoadFrom(context.Background(), config.MapLookuper(map[string]string{"WORKERS": "x", "MODE": "slow"}), &checked{})
	var ce *config.Error
	if !errors.As(err, &ce) || len(ce.Problems) != 2 || !strings.Contains(err.Error(), `MODE "slow"`) ||
		strings.Contains(err.Error(), "want 1-4") {
		t.Fatalf("want the WORKERS decode error and the MODE validation, got %v", err)
	}
}

func TestDescribeAndUsage(t *testing.T) {
	t.Parallel()
	vars := config.Describe(&sample{})
	want := []config.Var{
		{Name: "URL", Required: true, Desc: "where to go"},
		{Name: "PASSWORD", Desc: "the password"},
		{Name: "INTERVAL", Default: "15m", Desc: "how often"},
		{Name: "INNER_TOKEN", Desc: "inner service: token"},
	}
	if !reflect.DeepEqual(vars, want) {
		t.Fatalf("Describe = %+v\nwant %+v", vars, want)
	}
	if got := config.Describe(&rich{}); got[5].Name != "PATHS" || got[5].Default != "/a,/b" || got[6].Default != "A=1,B=2" {
		t.Errorf("defaults with commas: %+v", got[5:7])
	}
	var b strings.Builder
	if err := config.Usage(&b, append(vars, vars[0])); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[1], "URL ") || !strings.Contains(lines[1], "required") ||
		!strings.Contains(lines[2], " -  ") || !strings.Contains(lines[3], "15m") {
		t.Fatalf("usage:\n%s", b.String())
	}
}
