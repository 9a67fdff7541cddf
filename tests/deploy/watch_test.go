package deploy

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// alarmMetrics returns the metrics a CloudWatch alarm reads, as
// "Namespace MetricName dim=value,…" with values evaluated, and its math
// expressions.
func alarmMetrics(tpl *Template, p map[string]any) (metrics, expressions []string) {
	describe := func(ns, name, dims any) string {
		var ds []string
		for _, d := range asList(dims) {
			m := d.(map[string]any)
			ds = append(ds, fmt.Sprintf("%v=%s", m["Name"], tpl.Eval(m["Value"], testParams)))
		}
		return fmt.Sprintf("%s %v %s", tpl.Eval(ns, testParams), name, strings.Join(ds, ","))
	}
	if p["MetricName"] != nil {
		return []string{describe(p["Namespace"], p["MetricName"], p["Dimensions"])}, nil
	}
	for _, m := range asList(p["Metrics"]) {
		mm := m.(map[string]any)
		if ms, ok := mm["MetricStat"].(map[string]any); ok {
			met := ms["Metric"].(map[string]any)
			metrics = append(metrics, describe(met["Namespace"], met["MetricName"], met["Dimensions"]))
		}
		if e, ok := mm["Expression"]; ok {
			expressions = append(expressions, tpl.Eval(e, templateParams(tpl, sentinels)))
		}
	}
	return metrics, expressions
}

// alarmsReading returns the notifying alarms whose metrics include all of want.
func alarmsReading(t *testing.T, tpl *Template, want ...string) []string {
	t.Helper()
	env := keyEnv(t, tpl, nil)
	var ids []string
	for _, id := range tpl.OfType("AWS::CloudWatch::Alarm") {
		p := tpl.Resources[id].Properties
		if !contains(notifyTargets(tpl, env, p["AlarmActions"]), "<AlarmTopic>") {
			continue
		}
		metrics, _ := alarmMetrics(tpl, p)
		all := strings.Join(metrics, "\n")
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(all, w)
		}
		if ok {
			ids = append(ids, id)
		}
	}
	return ids
}

// TestEveryServiceIsWatchedForMissingTasks: each service has an alarm on
// fewer tasks running than desired for several minutes, from Container
// Insights (on in every environment).
func TestEveryServiceIsWatchedForMissingTasks(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	for _, svc := range Services {
		name := fmt.Sprint(tpl.Resources[serviceResources[svc].service].Properties["ServiceName"])
		ids := alarmsReading(t, tpl, "ECS/ContainerInsights RunningTaskCount ClusterName=<Cluster>,ServiceName="+name,
			"ECS/ContainerInsights DesiredTaskCount ClusterName=<Cluster>,ServiceName="+name)
		if len(ids) != 1 {
			t.Errorf("%s: alarms on running vs desired tasks %v, want one", svc, ids)
			continue
		}
		p := tpl.Resources[ids[0]].Properties
		_, exprs := alarmMetrics(tpl, p)
		if fmt.Sprint(exprs) != "[desired - running]" || fmt.Sprint(p["Threshold"]) != "0" || p["ComparisonOperator"] != "GreaterThanThreshold" ||
			fmt.Sprint(p["EvaluationPeriods"]) != "5" {
			t.Errorf("%s: %v threshold %v %v over %v periods; want desired - running > 0 for 5 minutes", svc, exprs, p["ComparisonOperator"], p["Threshold"], p["EvaluationPeriods"])
		}
	}
	m := tpl.Resources["Cluster"].Properties["ClusterSettings"]
	if !strings.Contains(fmt.Sprint(m), "containerInsights") {
		t.Fatalf("cluster settings %v", m)
	}
	envs := tpl.Mappings["Environments"].(map[string]any)
	for name, e := range envs {
		if v := e.(map[string]any)["ContainerInsights"]; v != "enabled" {
			t.Errorf("%s: Container Insights %v; the task alarms read its metrics", name, v)
		}
	}
}

// TestCommandQueuesAlarmOnTheirOldestMessage: a command waiting too long is
// seen (a disable that waits is access not taken away), and the queues keep
// a command through a long weekend of a stopped consumer.
func TestCommandQueuesAlarmOnTheirOldestMessage(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	for _, q := range []string{"CreateQueue", "DisableQueue", "SyncQueue"} {
		if ids := alarmsReading(t, tpl, "AWS/SQS ApproximateAgeOfOldestMessage QueueName=<"+q+".QueueName>"); len(ids) != 1 {
			t.Errorf("%s: alarms on the oldest message %v, want one", q, ids)
		}
	}
	if m, err := strconv.Atoi(templateParams(tpl, nil)["DisableQueueMaxAgeMinutes"]); err != nil || m > 15 {
		t.Errorf("by default a disable may wait %d minutes (%v) before anyone hears of it", m, err)
	}
}

// TestIoTRefusedConnectionsAreWatched: devices that onboarded but cannot
// connect show as IoT Core's Connect.AuthError, which AWS publishes
// without logging being on.
func TestIoTRefusedConnectionsAreWatched(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	if ids := alarmsReading(t, tpl, "AWS/IoT Connect.AuthError Protocol=MQTT"); len(ids) != 1 {
		t.Errorf("alarms on IoT Core's refused MQTT connections: %v, want one", ids)
	}
}

// TestDataStreamerEdgeIsWatched: 5xx, a majority of 4xx (with a low-traffic
// guard), the stage throttle's 429s (1NCE's deliveries among them) and the
// web ACL's blocks each raise an alarm.
func TestDataStreamerEdgeIsWatched(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	api := "ApiName=simbridge-test-datastreamer,Stage=live"
	for what, want := range map[string][]string{
		"5xx":             {"AWS/ApiGateway 5XXError " + api},
		"4xx ratio":       {"AWS/ApiGateway 4XXError " + api, "AWS/ApiGateway Count " + api},
		"throttled (429)": {"simbridge/simbridge-test DataStreamerThrottled"},
		"web ACL blocks":  {"AWS/WAFV2 BlockedRequests WebACL=simbridge-test-datastreamer,Region=eu-central-1,Rule=ALL"},
	} {
		if ids := alarmsReading(t, tpl, want...); len(ids) != 1 {
			t.Errorf("%s: alarms %v, want one reading %v", what, ids, want)
		}
	}
	if name := tpl.Eval(tpl.Resources["StreamApi"].Properties["Name"], testParams); name != "simbridge-test-datastreamer" {
		t.Errorf("the alarms read API %s", name)
	}
	if stage := fmt.Sprint(tpl.Resources["StreamStage"].Properties["StageName"]); stage != "live" {
		t.Errorf("the alarms read stage live, the API's is %s", stage)
	}
	if acl := tpl.Eval(tpl.Resources["StreamWebAcl"].Properties["Name"], testParams); acl != "simbridge-test-datastreamer" {
		t.Errorf("the alarm reads web ACL %s", acl)
	}
	f := tpl.Resources["StreamThrottledMetric"].Properties
	if tpl.Eval(f["LogGroupName"], testParams) != "<StreamAccessLogs>" || !strings.Contains(fmt.Sprint(f["FilterPattern"]), `$.status = "429"`) {
		t.Errorf("the throttle metric counts %v in %v, want the access log's 429s", f["FilterPattern"], f["LogGroupName"])
	}
	als, _ := tpl.Resources["StreamStage"].Properties["AccessLogSetting"].(map[string]any)
	format := fmt.Sprint(als["Format"])
	for _, field := range []string{`"status":"$context.status"`, `"waf":"$context.wafResponseCode"`} {
		if !strings.Contains(format, field) {
			t.Errorf("the access log lacks %s, which the throttle metric filters on", field)
		}
	}
}

// TestOnceAPIAndOnboardingAlerts: 1NCE's 429s and errors beyond a share of
// requests, and onboarding as devices see it (the gateway's 502/503, which
// remain when onboarding-api's own series are gone).
func TestOnceAPIAndOnboardingAlerts(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	rules := map[string]string{}
	for _, r := range alertRules(t, tpl) {
		rules[r.Alert] = r.Expr
	}
	for alert, want := range map[string][]string{
		"OnceApiThrottled":      {`simbridge_sim_poller_api_requests_total{job="simbridge",status="429"}`},
		"OnceApiErrors":         {`simbridge_sim_poller_api_requests_total{job="simbridge",status=~"5..|error|invalid_json"}`},
		"OnboardingUnavailable": {`simbridge_vpn_gateway_requests_total{job="simbridge",code=~"502|503"}`},
	} {
		expr, ok := rules[alert]
		if !ok {
			t.Errorf("no alert %s", alert)
			continue
		}
		for _, w := range want {
			if !strings.Contains(expr, w) {
				t.Errorf("%s: %s lacks %s", alert, expr, w)
			}
		}
	}
}

// ratioPattern finds a division of one series or metric by another.
var ratioPattern = regexp.MustCompile(`\) / sum\(|[a-z]+ / [a-z]+`)

// TestRatioAlarmsHaveALowTrafficGuard: every alarm or alert that divides
// failures by requests also requires AlarmMinRequests requests in its
// window, so one failure in a quiet hour (100% of one request) pages nobody.
func TestRatioAlarmsHaveALowTrafficGuard(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	guard := ">= " + sentinels["AlarmMinRequests"]
	ratios := 0
	for _, r := range alertRules(t, tpl) {
		if !ratioPattern.MatchString(r.Expr) {
			continue
		}
		ratios++
		if !strings.Contains(r.Expr, "and sum(increase(") || !strings.Contains(r.Expr, guard) {
			t.Errorf("%s divides without a low-traffic guard (and sum(increase(…)) %s): %s", r.Alert, guard, r.Expr)
		}
	}
	for _, id := range tpl.OfType("AWS::CloudWatch::Alarm") {
		_, exprs := alarmMetrics(tpl, tpl.Resources[id].Properties)
		for _, e := range exprs {
			if !ratioPattern.MatchString(e) || strings.HasSuffix(e, "/ 60") {
				continue
			}
			ratios++
			if !strings.Contains(e, "IF(requests "+guard) {
				t.Errorf("alarm %s divides without a low-traffic guard (IF(requests %s, …)): %s", id, guard, e)
			}
		}
	}
	if ratios < 5 {
		t.Errorf("found %d ratio alarms; the pattern no longer finds them", ratios)
	}
}

// TestTamperingRaisesAnAlarm: changes that weaken the fleet's trust reach
// the alarm topic at once: the keys' policies, deletion and disabling
// (on this stack's two keys), the account's IoT CAs, and new versions of
// the device policy. With TamperTrail=create the stack logs the write
// management events EventBridge needs.
func TestTamperingRaisesAnAlarm(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	pattern := func(id string) map[string]any {
		r, ok := tpl.Resources[id]
		if !ok || r.Type != "AWS::Events::Rule" {
			t.Fatalf("no EventBridge rule %s", id)
		}
		return r.Properties["EventPattern"].(map[string]any)
	}
	names := func(p map[string]any) []string {
		var out []string
		for _, n := range asList(p["detail"].(map[string]any)["eventName"]) {
			out = append(out, fmt.Sprint(n))
		}
		return out
	}
	kms := pattern("KeyTamperingRule")
	for _, n := range []string{"ScheduleKeyDeletion", "DisableKey", "PutKeyPolicy", "CreateGrant"} {
		if !contains(names(kms), n) {
			t.Errorf("KMS tampering rule misses %s", n)
		}
	}
	var keys []string
	for _, k := range asList(kms["detail"].(map[string]any)["resources"].(map[string]any)["ARN"]) {
		keys = append(keys, tpl.Eval(k, testParams))
	}
	if fmt.Sprint(keys) != "[<DeviceKey.Arn> <CASigningKey.Arn>]" || fmt.Sprint(kms["source"]) != "[aws.kms]" {
		t.Errorf("KMS tampering rule watches %v from %v, want the stack's two keys", keys, kms["source"])
	}
	ca := pattern("IoTCATamperingRule")
	for _, n := range []string{"UpdateCACertificate", "DeleteCACertificate"} {
		if !contains(names(ca), n) {
			t.Errorf("IoT CA rule misses %s", n)
		}
	}
	pol := pattern("DevicePolicyTamperingRule")
	if !contains(names(pol), "CreatePolicyVersion") || !contains(names(pol), "SetDefaultPolicyVersion") {
		t.Errorf("device policy rule watches %v", names(pol))
	}
	if got := tpl.Eval(asList(pol["detail"].(map[string]any)["requestParameters"].(map[string]any)["policyName"])[0], testParams); got != "<DevicePolicy>" {
		t.Errorf("device policy rule watches policy %s", got)
	}
	for _, p := range []map[string]any{kms, ca, pol} {
		if fmt.Sprint(p["detail-type"]) != "[AWS API Call via CloudTrail]" {
			t.Errorf("rule reads %v, want CloudTrail's API calls", p["detail-type"])
		}
	}
	trail := tpl.Resources["ManagementEventsTrail"]
	if trail.Condition != "CreatesTamperTrail" || trail.Properties["IsLogging"] != true ||
		!strings.Contains(fmt.Sprint(trail.Properties["EventSelectors"]), "IncludeManagementEvents:true") {
		t.Errorf("trail %v (condition %s): want management events logged when TamperTrail=create", trail.Properties, trail.Condition)
	}
	if d := templateParams(tpl, nil)["TamperTrail"]; d != "create" {
		t.Errorf("TamperTrail defaults to %s: a fresh account would get no tamper alarm", d)
	}
}
