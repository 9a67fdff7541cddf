package opscli

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// schemaTypes are the shapes simbridge prints with -o json.
var schemaTypes = []any{
	ListRow{}, SIMStatus{}, OnceView{}, RecordView{}, EnrolmentView{}, CertRef{}, IoTView{}, ThingView{}, CertView{}, Verdict{},
	FailuresReport{}, QueueCount{}, FailureGroup{}, DeadLetter{}, RedriveReport{}, RedriveResult{},
	AuditReport{}, AuditTotals{}, Finding{}, FixResult{}, CommandOutcome{}, SyncResult{}, Context{}, Resource{},
	Plan{}, PlannedStep{}, CAInfo{},
}

// schemaCSV are the CSV outputs, by the name docs/operating.md gives them.
var schemaCSV = map[string][]column{
	"export, list -o csv": exportColumns,
	"failures -o csv":     failureCSVColumns,
	"audit -o csv":        auditCSVColumns,
}

// TestSchemaIsDocumented: docs/operating.md lists every field of every
// JSON shape and every CSV column, in order, as the code writes them: a
// field added, renamed or dropped fails here until the documentation
// says so.
func TestSchemaIsDocumented(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/operating.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	for _, v := range schemaTypes {
		typ := reflect.TypeOf(v)
		want := "`" + typ.Name() + "`: " + strings.Join(jsonFields(typ), ", ")
		if !strings.Contains(text, want) {
			t.Errorf("docs/operating.md lacks the line\n%s", want)
		}
	}
	for name, cols := range schemaCSV {
		names := make([]string, len(cols))
		for i, c := range cols {
			names[i] = c.name
		}
		want := "`" + name + "`: " + strings.Join(names, ", ")
		if !strings.Contains(text, want) {
			t.Errorf("docs/operating.md lacks the line\n%s", want)
		}
	}
	// every documented type still exists
	for _, m := range regexp.MustCompile("(?m)^- `([A-Z][A-Za-z]+)`: ").FindAllStringSubmatch(text, -1) {
		found := false
		for _, v := range schemaTypes {
			found = found || reflect.TypeOf(v).Name() == m[1]
		}
		if !found {
			t.Errorf("docs/operating.md documents %s, which simbridge no longer prints", m[1])
		}
	}
}

// jsonFields are a struct's JSON names in order ("?" marks omitempty).
func jsonFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		if strings.Contains(opts, "omitempty") {
			name += "?"
		}
		out = append(out, name)
	}
	return out
}
