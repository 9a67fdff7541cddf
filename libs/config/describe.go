package config

import (
	"fmt"
	"io"
	"reflect"
	"strings"
	"text/tabwriter"
)

// Var is one environment variable a configuration struct reads, as -h
// shows it: derived from the struct, so the help cannot drift from what the
// service really reads.
type Var struct {
	Name string
	// Default is the value used when the variable is unset ("" for none).
	Default  string
	Required bool
	// Desc is the meaning, from the `desc` tags of the field and of the
	// groups it is nested in.
	Desc string
}

// Describe lists the variables of cfg (an env-tagged struct or a pointer to
// one) in declaration order, nested groups and their prefixes included.
func Describe(cfg any) []Var {
	t := reflect.TypeOf(cfg)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	fs := fields(t, reflect.Value{})
	out := make([]Var, len(fs))
	for i, f := range fs {
		out[i] = Var{Name: f.name, Default: f.def, Required: f.required, Desc: f.desc}
	}
	return out
}

// Usage writes vars as an aligned table: name, default ("required" when
// the variable must be set, "-" when it has none), meaning. A variable
// listed twice (two structs reading it) is shown once.
func Usage(w io.Writer, vars []Var) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIABLE\tDEFAULT\tMEANING")
	seen := map[string]bool{}
	for _, v := range vars {
		if seen[v.Name] {
			continue
		}
		seen[v.Name] = true
		def := v.Default
		switch {
		case v.Required:
			def = "required"
		case def == "":
			def = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Name, def, strings.TrimSpace(v.Desc))
	}
	return tw.Flush()
}

// Markdown writes vars as a Markdown table, as Usage does for a terminal.
func Markdown(w io.Writer, vars []Var) error {
	if _, err := fmt.Fprintln(w, "| variable | default | meaning |\n|---|---|---|"); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, v := range vars {
		if seen[v.Name] {
			continue
		}
		seen[v.Name] = true
		def := "`" + v.Default + "`"
		switch {
		case v.Required:
			def = "required"
		case v.Default == "":
			def = "—"
		}
		desc := strings.ReplaceAll(strings.TrimSpace(v.Desc), "|", "\\|")
		if _, err := fmt.Fprintf(w, "| `%s` | %s | %s |\n", v.Name, strings.ReplaceAll(def, "|", "\\|"), desc); err != nil {
			return err
		}
	}
	return nil
}
