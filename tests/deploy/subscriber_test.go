package deploy

import (
	"maps"
	"path/filepath"
	"strings"
	"testing"
)

// productionParams are production.env's values over the template's
// defaults, as make deploy passes them, with overrides.
func productionParams(t *testing.T, tpl *Template, overrides map[string]string) map[string]string {
	t.Helper()
	env := readEnvFile(t, filepath.Join(root(t), "deployments", "environments", "production.env"))
	p := templateParams(tpl, env)
	p["ImageRepository"], p["ImageTag"] = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/simbridge", "abc123"
	maps.Copy(p, overrides)
	return p
}

// TestProductionCannotDeployWithoutAnAlarmSubscriber: the template's rule
// refuses a production stack whose alarms would reach nobody (no e-mail,
// no chat or pager topic), with a message saying what to set, and lets
// every other case through. CloudFormation checks rules before creating
// anything; cfn-lint (TestCloudFormationTemplatesLintClean) checks the rule
// is well formed.
func TestProductionCannotDeployWithoutAnAlarmSubscriber(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	if len(tpl.Rules) == 0 {
		t.Fatal("the template has no Rules: nothing refuses a production stack without an alarm subscriber")
	}
	topic := "arn:aws:sns:eu-central-1:123456789012:pagerduty-simbridge"
	cases := []struct {
		name      string
		overrides map[string]string
		refused   bool
	}{
		{"production.env as committed", nil, true},
		{"production, explicitly nobody", map[string]string{"AlarmEmail": "", "AlarmSubscriberTopicArn": ""}, true},
		{"production with an e-mail", map[string]string{"AlarmEmail": "oncall@example.com"}, false},
		{"production with a chat or pager topic", map[string]string{"AlarmSubscriberTopicArn": topic}, false},
		{"production with both", map[string]string{"AlarmEmail": "oncall@example.com", "AlarmSubscriberTopicArn": topic}, false},
		{"non-production without a subscriber", map[string]string{"Environment": "non-production"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := productionParams(t, tpl, c.overrides)
			failed, err := tpl.RuleFailures(p)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(failed) > 0; got != c.refused {
				t.Fatalf("refused=%v (%v), want %v", got, failed, c.refused)
			}
			for _, msg := range failed {
				for _, w := range []string{"AlarmEmail", "AlarmSubscriberTopicArn", "production.env"} {
					if !strings.Contains(msg, w) {
						t.Errorf("the refusal %q does not say to set %s", msg, w)
					}
				}
			}
		})
	}
}

// notifyTargets are the SNS topics an alarm (or an EventBridge rule)
// notifies in env.
func notifyTargets(tpl *Template, env Env, actions any) []string {
	var out []string
	for _, a := range asList(resolveIf(actions, env)) {
		if m, ok := a.(map[string]any); ok && m["Arn"] != nil {
			a = m["Arn"]
		}
		out = append(out, tpl.Eval(a, env.Params))
	}
	return out
}

// TestAlarmsReachTheSubscriberTopic: with AlarmSubscriberTopicArn set, every
// CloudWatch alarm, every alert of the Prometheus workspace and every
// tamper or backup event is published to it as well as to the alarm topic
// (whose e-mail subscription is AlarmEmail).
func TestAlarmsReachTheSubscriberTopic(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	topic := "arn:aws:sns:eu-central-1:123456789012:opsgenie"
	env, err := tpl.EnvFor(productionParams(t, tpl, map[string]string{"AlarmSubscriberTopicArn": topic, "AlarmEmail": "oncall@example.com",
		"Prefix": testParams["Prefix"]}))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range notifications(t, tpl, env) {
		if n.kind == "Prometheus alert" {
			continue // through the alert manager, below
		}
		if !contains(n.targets, "<AlarmTopic>") || !contains(n.targets, topic) {
			t.Errorf("%s %s notifies %v, want the alarm topic and %s", n.kind, n.name, n.targets, topic)
		}
	}
	am := tpl.Eval(resolveIf(tpl.Resources["MetricsWorkspace"].Properties["AlertManagerDefinition"], env), env.Params)
	if !strings.Contains(am, "topic_arn: <AlarmTopic>") || !strings.Contains(am, "topic_arn: "+topic) {
		t.Errorf("alert manager does not send to both topics:\n%s", am)
	}
	sub := tpl.Eval(resolveIf(tpl.Resources["AlarmTopic"].Properties["Subscription"], env), env.Params)
	if !strings.Contains(sub, "email") || !strings.Contains(sub, "AlarmEmail") {
		t.Errorf("the alarm topic's e-mail subscription is not AlarmEmail: %s", sub)
	}
}

// TestDeployRefusesProductionWithoutAnAlarmSubscriber: make deploy says so
// before building or deploying anything (the stack would refuse it later),
// and goes ahead once the environment names a subscriber.
func TestDeployRefusesProductionWithoutAnAlarmSubscriber(t *testing.T) {
	t.Parallel()
	script := readFile(t, filepath.Join(root(t), "tools", "scripts", "deploy.sh"))
	prod := string(readFile(t, filepath.Join(root(t), "deployments", "environments", "production.env")))
	for _, c := range []struct {
		name, set string
		refused   bool
	}{
		{"nobody", "", true},
		{"an e-mail", "AlarmEmail=oncall@example.com", false},
		{"a pager topic", "AlarmSubscriberTopicArn=arn:aws:sns:eu-central-1:123456789012:pagerduty", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			var lines []string
			for _, l := range strings.Split(prod, "\n") {
				if !strings.HasPrefix(l, "AlarmEmail=") && !strings.HasPrefix(l, "AlarmSubscriberTopicArn=") {
					lines = append(lines, l)
				}
			}
			lines = append(lines, "AlarmEmail=", "AlarmSubscriberTopicArn=", c.set)
			writeFileIn(t, dir, "deployments/environments/production.env", strings.Join(lines, "\n")+"\n")
			writeFileIn(t, dir, "tools/scripts/deploy.sh", string(script))
			calls, out, err := runScriptAt(t, filepath.Join(dir, "tools", "scripts", "deploy.sh"),
				[]string{"SKIP_IMAGES=1", "IMAGE_TAG=abc123", "ONCE_PASSWORD_FILE=/dev/null", "OPENVPN_CONFIG_FILE=/dev/null", "OPENVPN_AUTH_FILE=/dev/null",
					"GATEWAY_TLS_FILE=/dev/null"}, "production")
			deployed := strings.Contains(calls, "cloudformation deploy --region eu-central-1 --stack-name simbridge-prod")
			if c.refused {
				if err == nil || deployed || strings.Contains(calls, "cloudformation deploy") {
					t.Fatalf("deploy went ahead (err %v):\n%s\n%s", err, calls, out)
				}
				for _, w := range []string{"AlarmEmail", "AlarmSubscriberTopicArn"} {
					if !strings.Contains(out, w) {
						t.Errorf("the refusal does not say to set %s:\n%s", w, out)
					}
				}
				return
			}
			if !deployed {
				t.Fatalf("deploy with %s did not deploy (err %v):\n%s\n%s", c.set, err, calls, out)
			}
		})
	}
}
