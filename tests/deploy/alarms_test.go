package deploy

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"
)

// pendingMetrics are series an alert reads before any service emits them,
// each with who adds it. The test fails as soon as the code emits one, so
// the entry cannot outlive its reason.
var pendingMetrics = map[string]string{}

// sentinels are parameter values no default has, so a rule that reads a
// threshold parameter shows it.
var sentinels = map[string]string{
	"OnboardingErrorRatio": "0.0123", "OnboardingLatencyP99Seconds": "0.456", "CertificateExpiryDays": "21", "AlarmMinRequests": "17",
}

// templateParams are testParams plus every parameter's default, then overrides.
func templateParams(tpl *Template, overrides map[string]string) map[string]string {
	p := maps.Clone(testParams)
	for name, v := range tpl.Parameters {
		if d, ok := v.(map[string]any)["Default"]; ok {
			p[name] = fmt.Sprint(d)
		}
	}
	maps.Copy(p, overrides)
	return p
}

// alertRules parses the rule file the stack gives its Prometheus workspace
// the way Prometheus does (rulefmt: structure, durations, PromQL).
func alertRules(t *testing.T, tpl *Template) []rulefmt.Rule {
	t.Helper()
	r, ok := tpl.Resources["AlertRules"]
	if !ok || r.Type != "AWS::APS::RuleGroupsNamespace" {
		t.Fatal("no AlertRules (AWS::APS::RuleGroupsNamespace)")
	}
	if ws := tpl.Eval(r.Properties["Workspace"], testParams); ws != "<MetricsWorkspace.Arn>" {
		t.Fatalf("rules belong to %s, not the stack's workspace", ws)
	}
	p := templateParams(tpl, sentinels)
	p["Prefix"] = testParams["Prefix"]
	data := tpl.Eval(r.Properties["Data"], p)
	groups, errs := rulefmt.Parse([]byte(data), false, model.UTF8Validation)
	if len(errs) > 0 {
		t.Fatalf("rule file rejected: %v\n%s", errs, data)
	}
	var rules []rulefmt.Rule
	for _, g := range groups.Groups {
		rules = append(rules, g.Rules...)
	}
	return rules
}

// selectors are the series an expression reads: metric name and matchers.
func selectors(t *testing.T, expr string) []*parser.VectorSelector {
	t.Helper()
	e, err := parser.ParseExpr(expr)
	if err != nil {
		t.Fatalf("%q: %v", expr, err)
	}
	var out []*parser.VectorSelector
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			out = append(out, vs)
		}
		return nil
	})
	return out
}

func matcher(vs *parser.VectorSelector, name string) *labels.Matcher {
	for _, m := range vs.LabelMatchers {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// TestAlertsReadMetricsTheCodeEmits: every series an alert reads is defined
// by the program of a service (derived from its call graph, not a list), by
// the service its `service` matcher names when it has one, scraped by the
// collector (job="simbridge"). A renamed metric would otherwise leave an
// alert that can never fire.
func TestAlertsReadMetricsTheCodeEmits(t *testing.T) {
	t.Parallel()
	progs := programs(t)
	seenPending := map[string]bool{}
	for _, r := range alertRules(t, loadTemplate(t)) {
		vss := selectors(t, r.Expr)
		if len(vss) == 0 {
			t.Errorf("%s reads no series", r.Alert)
		}
		for _, vs := range vss {
			if vs.Name == "" {
				t.Errorf("%s: selector %s names no metric", r.Alert, vs)
				continue
			}
			if m := matcher(vs, "job"); m == nil || m.Type != labels.MatchEqual || m.Value != "simbridge" {
				t.Errorf("%s: %s must select job=\"simbridge\" (the collector's scrape job)", r.Alert, vs)
			}
			var emitters []string
			for svc, p := range progs {
				if p.Emits(vs.Name) {
					emitters = append(emitters, svc)
				}
			}
			if why, pending := pendingMetrics[vs.Name]; pending {
				seenPending[vs.Name] = true
				if len(emitters) > 0 {
					t.Errorf("%s is emitted by %v now: remove it from pendingMetrics (%s)", vs.Name, emitters, why)
				}
				continue
			}
			if len(emitters) == 0 {
				t.Errorf("%s reads %s, which no service's code defines", r.Alert, vs.Name)
				continue
			}
			if m := matcher(vs, "service"); m != nil && m.Type == labels.MatchEqual && !progs[m.Value].Emits(vs.Name) {
				t.Errorf("%s reads %s from service %q, which does not define it (defined by %v)", r.Alert, vs.Name, m.Value, emitters)
			}
		}
	}
	for name, why := range pendingMetrics {
		if !seenPending[name] {
			t.Errorf("pendingMetrics lists %s, which no alert reads any more (%s): remove it", name, why)
		}
	}
}

// TestOnCallAlarms: the alarms the on-call engineer needs exist, read the
// right series, wait as long as agreed and take their thresholds from the
// stack's parameters.
func TestOnCallAlarms(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	rules := map[string]rulefmt.Rule{}
	for _, r := range alertRules(t, tpl) {
		rules[r.Alert] = r
		if r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
			t.Errorf("%s: want a severity label and a summary (the notification's text)", r.Alert)
		}
	}
	cases := []struct {
		alert, metric string
		wantFor       time.Duration
		contains      []string
	}{
		{"VpnGatewayTunnelDown", "simbridge_vpn_gateway_tunnel_up", 2 * time.Minute, []string{"== 0"}},
		{"VpnGatewayMetricsMissing", "simbridge_vpn_gateway_tunnel_up", 0, []string{"absent_over_time("}},
		{"OnboardingErrors", "simbridge_onboarding_api_requests_total", 5 * time.Minute, []string{`code=~"5.."`, "> " + sentinels["OnboardingErrorRatio"]}},
		{"OnboardingSlow", "simbridge_onboarding_api_request_duration_seconds_bucket", 10 * time.Minute, []string{"histogram_quantile(0.99", "> " + sentinels["OnboardingLatencyP99Seconds"]}},
		{"GatewayCertificateExpiring", "simbridge_vpn_gateway_tls_certificate_not_after_timestamp_seconds", 0, []string{"- time() < 21 * 86400"}},
		{"CaCertificateExpiring", "simbridge_ca_certificate_not_after_timestamp_seconds", 0, []string{"- time() < 21 * 86400"}},
		{"ProvisioningThrottled", "simbridge_aws_failed_attempts_total", 10 * time.Minute, []string{`service="provisioner"`, `kind="throttle"`}},
	}
	for _, c := range cases {
		r, ok := rules[c.alert]
		if !ok {
			t.Errorf("no alert %s", c.alert)
			continue
		}
		if time.Duration(r.For) != c.wantFor {
			t.Errorf("%s: for %v, want %v", c.alert, time.Duration(r.For), c.wantFor)
		}
		read := false
		for _, vs := range selectors(t, r.Expr) {
			read = read || vs.Name == c.metric
		}
		if !read {
			t.Errorf("%s does not read %s: %s", c.alert, c.metric, r.Expr)
		}
		for _, w := range c.contains {
			if !strings.Contains(r.Expr, w) {
				t.Errorf("%s: %q lacks %q", c.alert, r.Expr, w)
			}
		}
	}
	if d := templateParams(tpl, nil)["CertificateExpiryDays"]; d != "21" {
		t.Errorf("certificates must alarm 21 days ahead by default, not %s", d)
	}
}

// TestAlarmsReachTheirOwnTopic: alert manager and CloudWatch alarms notify
// the alarm topic (not the reference-compatible success/failure topics),
// and the topic's policy lets exactly those two publish.
func TestAlarmsReachTheirOwnTopic(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	var am struct {
		Config string `yaml:"alertmanager_config"`
	}
	def := tpl.Eval(resolveIf(tpl.Resources["MetricsWorkspace"].Properties["AlertManagerDefinition"], keyEnv(t, tpl, nil)), testParams)
	if err := yaml.Unmarshal([]byte(def), &am); err != nil || am.Config == "" {
		t.Fatalf("alert manager definition: %v\n%s", err, def)
	}
	var cfg struct {
		Route     struct{ Receiver string }
		Receivers []struct {
			Name       string
			SNSConfigs []struct {
				TopicARN string `yaml:"topic_arn"`
				SigV4    struct{ Region string }
			} `yaml:"sns_configs"`
		}
	}
	if err := yaml.Unmarshal([]byte(am.Config), &cfg); err != nil {
		t.Fatal(err)
	}
	routed := false
	for _, r := range cfg.Receivers {
		for _, sc := range r.SNSConfigs {
			if sc.TopicARN != "<AlarmTopic>" || sc.SigV4.Region == "" {
				t.Errorf("receiver %s sends to %s (region %q), want the alarm topic with a SigV4 region", r.Name, sc.TopicARN, sc.SigV4.Region)
			}
			routed = routed || r.Name == cfg.Route.Receiver
		}
	}
	if !routed {
		t.Errorf("the route's receiver %q is not an SNS receiver", cfg.Route.Receiver)
	}

	env := keyEnv(t, tpl, nil)
	for _, id := range tpl.OfType("AWS::CloudWatch::Alarm") {
		p := tpl.Resources[id].Properties
		actions := notifyTargets(tpl, env, p["AlarmActions"])
		if strings.HasSuffix(actions[0], "ScaleOut>") || strings.HasSuffix(actions[0], "ScaleIn>") {
			continue // scaling triggers, not notifications
		}
		if fmt.Sprint(actions) != "[<AlarmTopic>]" || fmt.Sprint(notifyTargets(tpl, env, p["OKActions"])) != fmt.Sprint(actions) {
			t.Errorf("alarm %s notifies %v; want the alarm topic, also when it clears", id, actions)
		}
		namespaces := []any{p["Namespace"]}
		if p["Namespace"] == nil {
			namespaces = nil
			for _, m := range asList(p["Metrics"]) {
				if ms, ok := m.(map[string]any)["MetricStat"].(map[string]any); ok {
					namespaces = append(namespaces, ms["Metric"].(map[string]any)["Namespace"])
				}
			}
		}
		if len(namespaces) == 0 {
			t.Errorf("alarm %s reads no metric", id)
		}
		for _, n := range namespaces {
			ns := tpl.Eval(n, testParams)
			if !strings.HasPrefix(ns, "AWS/") && ns != "ECS/ContainerInsights" && ns != "simbridge/"+testParams["Prefix"] {
				t.Errorf("alarm %s reads namespace %s: only AWS's own metrics or this stack's log metric filters", id, ns)
			}
		}
	}

	doc := tpl.Resources["AlarmTopicPolicy"].Properties
	if got := fmt.Sprint(tpl.Eval(asList(doc["Topics"])[0], testParams)); got != "<AlarmTopic>" {
		t.Fatalf("topic policy applies to %s", got)
	}
	principals := map[string]string{}
	for _, s := range asList(doc["PolicyDocument"].(map[string]any)["Statement"]) {
		st := s.(map[string]any)
		svc := fmt.Sprint(st["Principal"].(map[string]any)["Service"])
		principals[svc] = fmt.Sprint(st["Condition"])
	}
	if len(principals) != 3 || !strings.Contains(principals["aps.amazonaws.com"], "[MetricsWorkspace Arn]") ||
		!strings.Contains(principals["cloudwatch.amazonaws.com"], ":alarm:*") || !strings.Contains(principals["events.amazonaws.com"], ":rule/${Prefix}-*") {
		t.Errorf("alarm topic policy: want CloudWatch alarms, this workspace and this stack's EventBridge rules only, got %v", principals)
	}
}

// TestVpnGatewayNotRunningAlarm: the gateway task's absence is seen from
// ECS's own metrics, so it fires even when the collector is what failed.
func TestVpnGatewayNotRunningAlarm(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	p := tpl.Resources["VpnGatewayNotRunningAlarm"].Properties
	dims := map[string]string{}
	for _, d := range asList(p["Dimensions"]) {
		m := d.(map[string]any)
		dims[fmt.Sprint(m["Name"])] = tpl.Eval(m["Value"], testParams)
	}
	window := fmt.Sprint(p["Period"]) + "x" + fmt.Sprint(p["EvaluationPeriods"])
	if p["Namespace"] != "AWS/ECS" || dims["ClusterName"] != "<Cluster>" || dims["ServiceName"] != "<VpnGatewayService.Name>" ||
		p["TreatMissingData"] != "breaching" || window != "60x3" {
		t.Errorf("gateway-not-running alarm: %v %v missing=%v window=%s", p["Namespace"], dims, p["TreatMissingData"], window)
	}
}
