package config

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/sethvargo/go-envconfig"
)

// Load fills cfg (a pointer to an env-tagged struct) from the process
// environment and validates it.
func Load(ctx context.Context, cfg any) error {
	return LoadFrom(ctx, envconfig.OsLookuper(), cfg)
}

// Start is how every service begins: Load, then one "starting" line with
// the configuration, secrets masked (LogValue).
func Start(ctx context.Context, cfg any, logger *slog.Logger) error {
	if err := Load(ctx, cfg); err != nil {
		return err
	}
	logger.Info("starting", "config", LogValue(cfg))
	return nil
}

// LoadFrom is Load with an explicit source of values. It reports every
// problem at once, so an operator fixes a task definition in one round:
// each variable is decoded on its own by go-envconfig (a missing required
// one or an undecodable value does not hide the next), then the struct's
// Validate runs on what could be decoded, a broken variable keeping its
// default. Validation messages about a variable already reported are left
// out.
func LoadFrom(ctx context.Context, l Lookuper, cfg any) error {
	v := reflect.ValueOf(cfg)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("load config: want a pointer to a struct, got %T", cfg)
	}
	var problems []error
	var broken []string
	for _, f := range fields(v.Elem().Type(), v.Elem()) {
		if err := f.decode(ctx, l); err != nil {
			problems = append(problems, err)
			broken = append(broken, f.name)
		}
	}
	if val, ok := cfg.(Validator); ok {
		problems = append(problems, notAbout(broken, val.Validate())...)
	}
	if len(problems) > 0 {
		return &Error{Problems: problems}
	}
	return nil
}

// Error lists every missing or invalid setting found by LoadFrom.
type Error struct {
	Problems []error
}

func (e *Error) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	noun := "problems"
	if len(msgs) == 1 {
		noun = "problem"
	}
	return fmt.Sprintf("invalid config (%d %s): %s", len(msgs), noun, strings.Join(msgs, "; "))
}

// Unwrap gives errors.Is and errors.As every problem.
func (e *Error) Unwrap() []error { return e.Problems }

// decode reads one variable with go-envconfig itself (same tag, same
// lookup, defaults and decoders) into a one-field struct, then copies the
// result into the field. When the given value cannot be decoded, the field
// gets its default so validation judges the rest of the struct as the
// service would run it once the value is fixed.
func (f field) decode(ctx context.Context, l Lookuper) error {
	one := reflect.StructOf([]reflect.StructField{{Name: "V", Type: f.sf.Type, Tag: reflect.StructTag("env:" + strconv.Quote(f.tag))}})
	tmp := reflect.New(one)
	pl := l
	if f.prefix != "" {
		pl = envconfig.PrefixLookuper(f.prefix, l)
	}
	err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: tmp.Interface(), Lookuper: pl})
	if err == nil {
		f.value.Set(tmp.Elem().Field(0))
		return nil
	}
	if errors.Is(err, envconfig.ErrMissingRequired) {
		return fmt.Errorf("%s: required, not set", f.name)
	}
	if f.def != "" {
		fallback := reflect.New(one)
		if envconfig.ProcessWith(ctx, &envconfig.Config{Target: fallback.Interface(), Lookuper: envconfig.MapLookuper(nil)}) == nil {
			f.value.Set(fallback.Elem().Field(0))
		}
	}
	return fmt.Errorf("%s: %s", f.name, strings.TrimPrefix(err.Error(), "V: "))
}

// notAbout flattens a validation error (errors.Join trees) and drops the
// messages naming a variable already reported as missing or undecodable.
func notAbout(names []string, err error) []error {
	if err == nil {
		return nil
	}
	var out []error
	for _, e := range flatten(err) {
		if !mentionsAny(e.Error(), names) {
			out = append(out, e)
		}
	}
	return out
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			if e != nil {
				out = append(out, flatten(e)...)
			}
		}
		return out
	}
	return []error{err}
}

var wordChars = regexp.MustCompile(`[A-Z0-9_]+`)

func mentionsAny(msg string, names []string) bool {
	for _, w := range wordChars.FindAllString(msg, -1) {
		for _, n := range names {
			if w == n {
				return true
			}
		}
	}
	return false
}
