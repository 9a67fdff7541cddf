package deploy

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// notification is something the stack sends operators: a CloudWatch
// alarm, a Prometheus alert or an EventBridge rule.
type notification struct {
	kind, resource string
	// name is how operators see it: the alarm or rule name with the
	// prefix written <prefix>, or the alert's name.
	name    string
	targets []string
}

// notifications lists every CloudWatch alarm and EventBridge rule of the
// template that notifies a topic (scaling alarms trigger policies, not
// people), and every alert rule of the Prometheus workspace.
func notifications(t *testing.T, tpl *Template, env Env) []notification {
	t.Helper()
	prefix := env.Params["Prefix"]
	named := func(v any) string {
		n := tpl.Eval(v, env.Params)
		if rest, ok := strings.CutPrefix(n, prefix+"-"); ok {
			return "<prefix>-" + rest
		}
		return n
	}
	var out []notification
	for id, r := range tpl.Resources {
		if r.Condition != "" && !env.condition(r.Condition) {
			continue
		}
		switch r.Type {
		case "AWS::CloudWatch::Alarm":
			targets := notifyTargets(tpl, env, r.Properties["AlarmActions"])
			if len(targets) > 0 && (strings.HasSuffix(targets[0], "ScaleOut>") || strings.HasSuffix(targets[0], "ScaleIn>")) {
				continue
			}
			out = append(out, notification{"CloudWatch alarm", id, named(r.Properties["AlarmName"]), targets})
		case "AWS::Events::Rule":
			out = append(out, notification{"EventBridge rule", id, named(r.Properties["Name"]), notifyTargets(tpl, env, r.Properties["Targets"])})
		}
	}
	for _, r := range alertRules(t, tpl) {
		out = append(out, notification{"Prometheus alert", "AlertRules", r.Alert, []string{"<AlarmTopic>"}})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

const runbookHeading = "## Alarms: what each means, what to do"

// runbookRows reads the runbook table of docs/observability.md: for each
// row, the names in backticks of its first cell.
func runbookRows(t *testing.T) map[string]bool {
	t.Helper()
	doc := string(readFile(t, filepath.Join(root(t), "docs", "observability.md")))
	_, section, ok := strings.Cut(doc, runbookHeading)
	if !ok {
		t.Fatalf("docs/observability.md has no section %q", runbookHeading)
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	rows := map[string]bool{}
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") {
			continue
		}
		for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(cells[1], -1) {
			rows[m[1]] = true
		}
	}
	return rows
}

// TestEveryAlarmHasARunbookRow: each CloudWatch alarm, Prometheus alert
// and EventBridge rule that reaches operators has its row in the runbook
// (what it means, what to do), production and non-production stacks alike,
// and no row names something the stack does not send.
func TestEveryAlarmHasARunbookRow(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	rows := runbookRows(t)
	sent := map[string]bool{}
	for _, environment := range []string{"production", "non-production"} {
		env, err := tpl.EnvFor(productionParams(t, tpl, map[string]string{"Environment": environment, "Prefix": testParams["Prefix"],
			"AlarmEmail": "oncall@example.com"}))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range notifications(t, tpl, env) {
			sent[n.name] = true
			if n.name == "" || strings.Contains(n.name, "<"+n.resource) {
				t.Errorf("%s %s has no name operators would see (AlarmName / Name)", n.kind, n.resource)
				continue
			}
			if !rows[n.name] {
				t.Errorf("docs/observability.md has no runbook row for the %s %s (resource %s): add\n"+
					"| `%s` | what it means | what to do |\nto the table under %q", n.kind, n.name, n.resource, n.name, runbookHeading)
			}
		}
	}
	for name := range rows {
		if !sent[name] && name != "alarm" {
			t.Errorf("the runbook has a row for %s, which the stack no longer sends: remove or rename the row", name)
		}
	}
}

// TestNotificationsReachTheAlarmTopic: every alarm, alert and rule of the
// runbook is sent to the alarm topic, whose policy lets CloudWatch, the
// Prometheus workspace and this stack's EventBridge rules publish.
func TestNotificationsReachTheAlarmTopic(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	env := keyEnv(t, tpl, nil)
	rules := 0
	for _, n := range notifications(t, tpl, env) {
		if !contains(n.targets, "<AlarmTopic>") {
			t.Errorf("%s %s notifies %v, not the alarm topic", n.kind, n.name, n.targets)
		}
		if n.kind == "EventBridge rule" {
			rules++
			arn := fmt.Sprintf("arn:aws:events:eu-central-1:123456789012:rule/%s", strings.Replace(n.name, "<prefix>", testParams["Prefix"], 1))
			if !topicPolicyAllows(t, tpl, "events.amazonaws.com", arn) {
				t.Errorf("the alarm topic's policy does not let rule %s publish", arn)
			}
		}
	}
	if rules < 4 {
		t.Errorf("%d EventBridge rules reach the alarm topic, want the tamper and backup rules", rules)
	}
}

// topicPolicyAllows reports whether the alarm topic's policy lets service
// publish for the source ARN.
func topicPolicyAllows(t *testing.T, tpl *Template, service, source string) bool {
	t.Helper()
	doc := tpl.Resources["AlarmTopicPolicy"].Properties["PolicyDocument"].(map[string]any)
	for _, s := range asList(doc["Statement"]) {
		st := s.(map[string]any)
		if fmt.Sprint(st["Principal"].(map[string]any)["Service"]) != service || !strings.Contains(fmt.Sprint(st["Action"]), "sns:Publish") {
			continue
		}
		cond, _ := st["Condition"].(map[string]any)
		like, _ := cond["ArnLike"].(map[string]any)
		pattern := tpl.Eval(like["aws:SourceArn"], testParams)
		re := regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(pattern), `\*`, ".*") + "$")
		if re.MatchString(source) {
			return true
		}
	}
	return false
}
