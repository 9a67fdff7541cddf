// Package vulngate decides whether govulncheck's findings fail the build:
// every vulnerability the code can reach does, unless an allow list entry
// says why it does not apply here; an entry whose vulnerability is no longer
// reached fails too, so the list cannot outlive its reasons.
package vulngate

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Finding is one vulnerability govulncheck found reachable from the code
// (a call path to a vulnerable symbol, not only an imported package).
type Finding struct {
	ID           string
	Module       string
	FixedVersion string
	// Where is the first frame of the call path: the code's own call.
	Where string
}

// message is the part of govulncheck's -format json stream used here.
type message struct {
	Finding *struct {
		OSV          string `json:"osv"`
		FixedVersion string `json:"fixed_version"`
		Trace        []struct {
			Module   string `json:"module"`
			Package  string `json:"package"`
			Function string `json:"function"`
			Receiver string `json:"receiver"`
			Position *struct {
				Filename string `json:"filename"`
				Line     int    `json:"line"`
			} `json:"position"`
		} `json:"trace"`
	} `json:"finding"`
}

// Reachable reads a govulncheck -format json stream and returns the
// findings with a call path (symbol level), one per vulnerability.
func Reachable(r io.Reader) ([]Finding, error) {
	dec := json.NewDecoder(r)
	seen := map[string]bool{}
	var out []Finding
	for {
		var m message
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("govulncheck output: %w", err)
		}
		f := m.Finding
		if f == nil || len(f.Trace) == 0 || f.Trace[0].Function == "" || seen[f.OSV] {
			continue
		}
		seen[f.OSV] = true
		vuln, caller := f.Trace[0], f.Trace[len(f.Trace)-1]
		where := caller.Package + "." + strings.TrimPrefix(caller.Receiver+".", ".") + caller.Function
		if caller.Position != nil {
			where = fmt.Sprintf("%s:%d %s", caller.Position.Filename, caller.Position.Line, where)
		}
		out = append(out, Finding{ID: f.OSV, Module: vuln.Module, FixedVersion: f.FixedVersion, Where: where})
	}
	return out, nil
}

// ParseAllowList reads lines "GO-YYYY-NNNN reason" ('#' starts a comment);
// every entry needs a reason.
func ParseAllowList(r io.Reader) (map[string]string, error) {
	allow := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, reason, _ := strings.Cut(line, " ")
		if !strings.HasPrefix(id, "GO-") || strings.TrimSpace(reason) == "" {
			return nil, fmt.Errorf("allow list line %d: want \"GO-YYYY-NNNN why it does not apply\"", n)
		}
		allow[id] = strings.TrimSpace(reason)
	}
	return allow, sc.Err()
}

// Decide returns the problems that fail the build: reachable findings not
// allowed, and allow entries matching no finding.
func Decide(findings []Finding, allow map[string]string) []string {
	var problems []string
	found := map[string]bool{}
	for _, f := range findings {
		found[f.ID] = true
		if _, ok := allow[f.ID]; ok {
			continue
		}
		fix := f.FixedVersion
		if fix == "" {
			fix = "no fixed version"
		}
		problems = append(problems, fmt.Sprintf("%s in %s (%s), reached from %s", f.ID, f.Module, fix, f.Where))
	}
	for id, reason := range allow {
		if !found[id] {
			problems = append(problems, fmt.Sprintf("allow list entry %s is not reached any more (%s): remove it", id, reason))
		}
	}
	sort.Strings(problems)
	return problems
}
