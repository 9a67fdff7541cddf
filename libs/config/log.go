package config

import (
	"fmt"
	"log/slog"
	"reflect"
)

// LogValue renders an env-tagged configuration struct as a slog group keyed by
// the environment variable names, so an operator sees exactly which settings a
// service started with. Secret fields print as "[redacted]".
func LogValue(cfg any) slog.Value {
	v := reflect.Indirect(reflect.ValueOf(cfg))
	if v.Kind() != reflect.Struct {
		return slog.AnyValue(cfg)
	}
	var attrs []slog.Attr
	collect(v, "", &attrs)
	return slog.GroupValue(attrs...)
}

func collect(v reflect.Value, prefix string, attrs *[]slog.Attr) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts := parseTag(f.Tag.Get("env"))
		fv := v.Field(i)
		if isNested(fv) {
			collect(reflect.Indirect(fv), prefix+opts["prefix"], attrs)
			continue
		}
		if name == "" {
			continue
		}
		*attrs = append(*attrs, slog.String(prefix+name, render(fv)))
	}
}

func isNested(fv reflect.Value) bool {
	if fv.Kind() == reflect.Pointer {
		if fv.IsNil() {
			return false
		}
		fv = fv.Elem()
	}
	if fv.Kind() != reflect.Struct {
		return false
	}
	_, isStringer := fv.Interface().(fmt.Stringer)
	return !isStringer
}

func render(fv reflect.Value) string {
	if s, ok := fv.Interface().(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprint(fv.Interface())
}
