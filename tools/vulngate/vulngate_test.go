package vulngate_test

import (
	"strings"
	"testing"

	"github.com/simbridge/simbridge/tools/vulngate"
)

// stream is govulncheck -format json output (abridged): a module-level and a
// symbol-level finding of GO-1, a package-level one of GO-2, a symbol-level
// one of GO-3.
const stream = `{"config": {"scanner_name": "govulncheck"}}
{"finding": {"osv": "GO-1", "fixed_version": "v1.2.0", "trace": [{"module": "example.com/m", "version": "v1.1.0"}]}}
{"finding": {"osv": "GO-1", "fixed_version": "v1.2.0", "trace": [
  {"module": "example.com/m", "version": "v1.1.0", "package": "example.com/m/p", "function": "Bad"},
  {"module": "ours", "package": "ours/x", "receiver": "*T", "function": "Use", "position": {"filename": "x/use.go", "line": 7}}]}}
{"finding": {"osv": "GO-2", "trace": [{"module": "example.com/n", "package": "example.com/n/q"}]}}
{"finding": {"osv": "GO-3", "trace": [{"module": "stdlib", "package": "net/http", "function": "Serve"}]}}
`

func TestGate(t *testing.T) {
	t.Parallel()
	findings, err := vulngate.Reachable(strings.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	if len(findings) != 2 || findings[0].ID != "GO-1" || findings[0].Where != "x/use.go:7 ours/x.*T.Use" || findings[1].ID != "GO-3" {
		t.Fatalf("reachable findings %+v", findings)
	}
	cases := []struct {
		name, allow string
		want        []string
	}{
		{"nothing allowed", "", []string{"GO-1 in example.com/m (v1.2.0)", "GO-3 in stdlib (no fixed version)"}},
		{"one allowed", "# comment\nGO-3 we do not serve HTTP\n", []string{"GO-1 in"}},
		{"stale entry", "GO-1 a\nGO-3 b\nGO-2 only imported\n", []string{"GO-2 is not reached any more"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			allow, err := vulngate.ParseAllowList(strings.NewReader(c.allow))
			if err != nil {
				t.Fatal(err)
			}
			got := vulngate.Decide(findings, allow)
			if len(got) != len(c.want) {
				t.Fatalf("problems %q, want %d", got, len(c.want))
			}
			for i, w := range c.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %q lacks %q", got[i], w)
				}
			}
		})
	}
	if _, err := vulngate.ParseAllowList(strings.NewReader("GO-9\n")); err == nil {
		t.Error("an entry without a reason was accepted")
	}
}
