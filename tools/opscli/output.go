package opscli

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"
)

// Output formats of -o.
const (
	FormatTable = "table"
	FormatJSON  = "json"
	FormatCSV   = "csv"
)

// column is one column of a listing: its header and, for tables, its width
// (0: as wide as the value; used for the last column).
type column struct {
	name  string
	width int
}

// rowWriter streams the rows of a listing in one format, so a listing of the
// whole fleet is written page by page and never held in memory.
type rowWriter interface {
	// Row writes one row: cells for table and CSV, obj for JSON.
	Row(cells []string, obj any) error
	// Close ends the listing (the JSON array's bracket, flushes).
	Close() error
}

// newRowWriter returns the writer of format; csv is refused where a command
// has no flat shape (allowCSV false).
func newRowWriter(w io.Writer, format string, cols []column) (rowWriter, error) {
	switch format {
	case FormatTable:
		t := &tableWriter{w: w, cols: cols}
		names := make([]string, len(cols))
		for i, c := range cols {
			names[i] = strings.ToUpper(c.name)
		}
		return t, t.line(names)
	case FormatJSON:
		return &jsonArrayWriter{w: w}, nil
	case FormatCSV:
		c := &csvWriter{w: csv.NewWriter(w)}
		names := make([]string, len(cols))
		for i, col := range cols {
			names[i] = col.name
		}
		return c, c.w.Write(names)
	default:
		return nil, usageError("output format %q: want table, json or csv", format)
	}
}

type tableWriter struct {
	w    io.Writer
	cols []column
}

func (t *tableWriter) Row(cells []string, _ any) error { return t.line(cells) }

func (t *tableWriter) line(cells []string) error {
	var b strings.Builder
	for i, c := range cells {
		if i < len(t.cols) && t.cols[i].width > 0 && i < len(cells)-1 {
			b.WriteString(pad(c, t.cols[i].width))
			b.WriteString("  ")
			continue
		}
		b.WriteString(c)
		if i < len(cells)-1 {
			b.WriteString("  ")
		}
	}
	b.WriteByte('\n')
	_, err := io.WriteString(t.w, b.String())
	return err
}

func (t *tableWriter) Close() error { return nil }

// pad left-aligns s in width runes (longer values are kept whole: a table
// must never cut an ICCID).
func pad(s string, width int) string {
	n := utf8.RuneCountInString(s)
	if n >= width {
		return s
	}
	return s + strings.Repeat(" ", width-n)
}

type jsonArrayWriter struct {
	w     io.Writer
	count int
}

func (j *jsonArrayWriter) Row(_ []string, obj any) error {
	b, err := json.MarshalIndent(withEmptyLists(obj), "  ", "  ")
	if err != nil {
		return err
	}
	sep := ",\n  "
	if j.count == 0 {
		sep = "[\n  "
	}
	j.count++
	_, err = fmt.Fprintf(j.w, "%s%s", sep, b)
	return err
}

func (j *jsonArrayWriter) Close() error {
	if j.count == 0 {
		_, err := io.WriteString(j.w, "[]\n")
		return err
	}
	_, err := io.WriteString(j.w, "\n]\n")
	return err
}

type csvWriter struct{ w *csv.Writer }

func (c *csvWriter) Row(cells []string, _ any) error { return c.w.Write(cells) }

func (c *csvWriter) Close() error {
	c.w.Flush()
	return c.w.Error()
}

// writeJSON prints one object as indented JSON (-o json of single answers),
// its empty lists as [] (never null).
func writeJSON(w io.Writer, obj any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(withEmptyLists(obj))
}

// withEmptyLists returns a copy of v whose nil slices (in its structs,
// pointers and slices, at any depth) are empty: a script reading -o json
// gets [] for an empty list, as the schema in docs/operating.md says, and
// never has to tell null from [].
func withEmptyLists(v any) any {
	if v == nil {
		return v
	}
	cp := reflect.New(reflect.TypeOf(v))
	cp.Elem().Set(reflect.ValueOf(v))
	fillSlices(cp.Elem())
	return cp.Elem().Interface()
}

var rawMessage = reflect.TypeOf(json.RawMessage(nil))

func fillSlices(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			fillSlices(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() && v.Type().Field(i).IsExported() {
				fillSlices(f)
			}
		}
	case reflect.Slice:
		if v.Type() == rawMessage || v.Type().Elem().Kind() == reflect.Uint8 {
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
			return
		}
		for i := range v.Len() {
			fillSlices(v.Index(i))
		}
	}
}

// stamp formats a time for tables: UTC, seconds, "-" when unset.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

// rfc3339 formats a time for CSV and scripts: UTC, RFC 3339, "" when unset.
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// when is an absolute time in words: its RFC 3339 form, or "never".
func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

// ago says how long before now t was, for people ("3m ago"; "never"):
// tables only, never JSON or CSV.
func ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd ago", int(d.Hours()/24))
	}
}

// dash shows an empty value as "-" in tables.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// short abbreviates a certificate id for tables (the full id is in -o json).
func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return dash(id)
}
