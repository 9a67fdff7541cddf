package config

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strings"

	"github.com/sethvargo/go-envconfig"
)

// field is one environment variable of a configuration struct, found by
// walking the struct the way go-envconfig does: nested structs without a
// decoder of their own are followed, their `prefix=` prepended.
type field struct {
	name     string // full variable name, prefixes included
	prefix   string // prefix of the struct holding the field
	tag      string // the field's env tag as written
	sf       reflect.StructField
	value    reflect.Value // addressable field value; invalid when only describing
	desc     string        // meaning: the desc tags of the enclosing groups and the field
	def      string
	required bool
}

// descTag is the struct tag giving a variable's meaning for -h; go-envconfig
// ignores it.
const descTag = "desc"

// fields walks t (and v, when valid) and returns its variables in
// declaration order.
func fields(t reflect.Type, v reflect.Value) []field {
	var out []field
	walk(t, v, "", "", false, &out)
	return out
}

func walk(t reflect.Type, v reflect.Value, prefix, groupDesc string, required bool, out *[]field) {
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, hasTag := sf.Tag.Lookup("env")
		if !sf.IsExported() || tag == "-" {
			continue
		}
		name, opts := parseTag(tag)
		desc := joinDesc(groupDesc, sf.Tag.Get(descTag))
		_, req := opts["required"]
		req = req || required
		var fv reflect.Value
		if v.IsValid() {
			fv = v.Field(i)
		}
		if st, ok := nestedStruct(sf.Type, name); ok {
			var inner reflect.Value
			if fv.IsValid() {
				inner = derefAlloc(fv)
			}
			walk(st, inner, prefix+opts["prefix"], desc, req, out)
			continue
		}
		if !hasTag || name == "" {
			continue
		}
		def, hasDef := opts["default"]
		if hasDef {
			// go-envconfig takes everything after "default=" as the value, commas included.
			def = tag[strings.Index(tag, "default=")+len("default="):]
		}
		*out = append(*out, field{name: prefix + name, prefix: prefix, tag: tag, sf: sf, value: fv,
			desc: desc, def: def, required: req})
	}
}

// nestedStruct reports whether a field of type t is a group of variables
// rather than one variable: a struct (or pointer to one) without a name of
// its own or without a decoder.
func nestedStruct(t reflect.Type, name string) (reflect.Type, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil, false
	}
	return t, name == "" || !decodes(t)
}

// decodes reports whether go-envconfig would decode a value of type t from
// one variable (its own decoder or an unmarshaler, like time.Time).
func decodes(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	for _, iface := range []reflect.Type{
		reflect.TypeFor[envconfig.Decoder](), reflect.TypeFor[envconfig.DecoderCtx](),
		reflect.TypeFor[encoding.TextUnmarshaler](), reflect.TypeFor[encoding.BinaryUnmarshaler](),
		reflect.TypeFor[json.Unmarshaler](),
	} {
		if p.Implements(iface) {
			return true
		}
	}
	return false
}

// derefAlloc follows pointers, allocating nil ones, so nested groups behind
// pointers can be filled.
func derefAlloc(v reflect.Value) reflect.Value {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		v = v.Elem()
	}
	return v
}

func joinDesc(group, own string) string {
	switch {
	case group == "":
		return own
	case own == "":
		return group
	}
	return group + ": " + own
}

// parseTag splits `NAME, opt, key=value` into the name and its options.
func parseTag(tag string) (string, map[string]string) {
	parts := strings.Split(tag, ",")
	opts := map[string]string{}
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		opts[k] = val
	}
	return strings.TrimSpace(parts[0]), opts
}
