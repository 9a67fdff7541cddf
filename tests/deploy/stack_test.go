package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/simbridge/simbridge/libs/messaging"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
)

// testParams are the values intrinsic functions are evaluated with.
var testParams = map[string]string{
	"Prefix": "simbridge-test", "AWS::Partition": "aws", "AWS::Region": "eu-central-1", "AWS::AccountId": "123456789012",
}

// serviceResources names each service's resources in the template.
var serviceResources = map[string]struct {
	role, task, service string
	secrets             []string // secrets the service needs in AWS
}{
	"sim-poller":     {"SimPollerTaskRole", "SimPollerTask", "SimPollerService", []string{"ONCE_PASSWORD_", "STREAM_AUTH_"}},
	"provisioner":    {"ProvisionerTaskRole", "ProvisionerTask", "ProvisionerService", nil},
	"deactivator":    {"DeactivatorTaskRole", "DeactivatorTask", "DeactivatorService", nil},
	"onboarding-api": {"OnboardingApiTaskRole", "OnboardingApiTask", "OnboardingApiService", []string{"API_KEY_"}},
	"vpn-gateway":    {"VpnGatewayTaskRole", "VpnGatewayTask", "VpnGatewayService", []string{"API_KEY_", "OPENVPN_CONFIG_"}},
}

// TestTemplateNamesMatchBootstrap: production must use the names the local
// bootstrap (and every test) uses, so configuration and runbooks carry over.
func TestTemplateNamesMatchBootstrap(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	names := bootstrap.Names{Prefix: testParams["Prefix"]}
	cases := []struct {
		resource, property, want string
	}{
		{"CreateQueue", "QueueName", names.CreateQueue()},
		{"CreateDeadLetterQueue", "QueueName", names.CreateDLQ()},
		{"DisableQueue", "QueueName", names.DisableQueue()},
		{"DisableDeadLetterQueue", "QueueName", names.DisableDLQ()},
		{"SyncQueue", "QueueName", names.SyncQueue()},
		{"SyncDeadLetterQueue", "QueueName", names.SyncDLQ()},
		{"SuccessTopic", "TopicName", names.SuccessTopic()},
		{"FailureTopic", "TopicName", names.FailureTopic()},
		{"SummaryTopic", "TopicName", names.SummaryTopic()},
		{"StreamCredentialsSecret", "Name", names.Prefix + "/datastreamer-credentials"},
		{"SimTable", "TableName", names.Table()},
		{"LeaseTable", "TableName", names.Leases()},
		{"DeviceKeyAlias", "AliasName", names.KeyAlias()},
		{"CASigningKeyAlias", "AliasName", names.CAKeyAlias()},
		{"SimThingGroup", "ThingGroupName", names.ThingGroup()},
		{"SimThingType", "ThingTypeName", names.ThingType()},
		{"DevicePolicy", "PolicyName", names.Policy()},
		{"ApiKeySecret", "Name", names.APIKeySecret()},
		{"EndpointParameter", "Name", names.EndpointParameter()},
	}
	for _, c := range cases {
		t.Run(c.resource, func(t *testing.T) {
			t.Parallel()
			r, ok := tpl.Resources[c.resource]
			if !ok {
				t.Fatalf("no resource %s", c.resource)
			}
			if got := tpl.Eval(r.Properties[c.property], testParams); got != c.want {
				t.Fatalf("%s.%s = %q, bootstrap uses %q", c.resource, c.property, got, c.want)
			}
		})
	}
}

// TestTableMatchesStore: the table has exactly the keys and index the store
// queries (simstore.TableDefinition), PITR on.
func TestTableMatchesStore(t *testing.T) {
	t.Parallel()
	tbl := loadTemplate(t).Resources["SimTable"].Properties
	def := simstore.TableDefinition("x")
	norm := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	var wantAttrs, wantKeys []map[string]string
	for _, a := range def.AttributeDefinitions {
		wantAttrs = append(wantAttrs, map[string]string{"AttributeName": aws.ToString(a.AttributeName), "AttributeType": string(a.AttributeType)})
	}
	for _, k := range def.KeySchema {
		wantKeys = append(wantKeys, map[string]string{"AttributeName": aws.ToString(k.AttributeName), "KeyType": string(k.KeyType)})
	}
	var wantGSIs []map[string]any
	for _, g := range def.GlobalSecondaryIndexes {
		var ks []map[string]string
		for _, k := range g.KeySchema {
			ks = append(ks, map[string]string{"AttributeName": aws.ToString(k.AttributeName), "KeyType": string(k.KeyType)})
		}
		proj := map[string]any{"ProjectionType": string(g.Projection.ProjectionType)}
		if len(g.Projection.NonKeyAttributes) > 0 {
			proj["NonKeyAttributes"] = g.Projection.NonKeyAttributes
		}
		wantGSIs = append(wantGSIs, map[string]any{"IndexName": aws.ToString(g.IndexName), "KeySchema": ks, "Projection": proj})
	}
	cases := []struct{ name, got, want string }{
		{"attributes", norm(tbl["AttributeDefinitions"]), norm(wantAttrs)},
		{"key schema", norm(tbl["KeySchema"]), norm(wantKeys)},
		{"indexes", norm(tbl["GlobalSecondaryIndexes"]), norm(wantGSIs)},
		{"billing", norm(tbl["BillingMode"]), norm(string(def.BillingMode))},
		{"point-in-time recovery", norm(tbl["PointInTimeRecoverySpecification"]), `{"PointInTimeRecoveryEnabled":true}`},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: template %s, store %s", c.name, c.got, c.want)
		}
	}
}

// TestDevicePolicyMatchesBootstrap: devices get the same rights whether the
// policy came from the bootstrap or from the stack.
func TestDevicePolicyMatchesBootstrap(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	doc := tpl.Resources["DevicePolicy"].Properties["PolicyDocument"].(map[string]any)
	var want struct{ Statement []map[string]any }
	if err := json.Unmarshal([]byte(bootstrap.DevicePolicy("aws", testParams["AWS::Region"], testParams["AWS::AccountId"])), &want); err != nil {
		t.Fatal(err)
	}
	render := func(stmts []any, eval func(any) string) []string {
		var out []string
		for _, s := range stmts {
			m := s.(map[string]any)
			var acts []string
			for _, a := range asList(m["Action"]) {
				acts = append(acts, fmt.Sprint(a))
			}
			sort.Strings(acts)
			out = append(out, fmt.Sprintf("%v %v %v", m["Effect"], acts, eval(m["Resource"])))
		}
		sort.Strings(out)
		return out
	}
	got := render(asList(doc["Statement"]), func(v any) string { return tpl.Eval(v, testParams) })
	wantStmts := make([]any, len(want.Statement))
	for i, s := range want.Statement {
		wantStmts[i] = s
	}
	exp := render(wantStmts, func(v any) string { return fmt.Sprint(v) })
	if strings.Join(got, "\n") != strings.Join(exp, "\n") {
		t.Fatalf("device policy differs:\ntemplate:\n%s\nbootstrap:\n%s", strings.Join(got, "\n"), strings.Join(exp, "\n"))
	}
}

// TestQueuesHaveDeadLetterQueuesAndAlarms: every work queue redrives to a DLQ
// after 5 receives, and every DLQ raises an alarm as soon as it holds a message.
func TestQueuesHaveDeadLetterQueuesAndAlarms(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	alarmed := map[string]bool{}
	for _, id := range tpl.OfType("AWS::CloudWatch::Alarm") {
		p := tpl.Resources[id].Properties
		if p["MetricName"] != "ApproximateNumberOfMessagesVisible" || len(asList(p["AlarmActions"])) == 0 {
			continue
		}
		for _, d := range asList(p["Dimensions"]) {
			if v := tpl.Eval(d.(map[string]any)["Value"], testParams); strings.HasSuffix(v, ".QueueName>") {
				if p["ComparisonOperator"] == "GreaterThanThreshold" && fmt.Sprint(p["Threshold"]) == "0" {
					alarmed[strings.TrimSuffix(strings.TrimPrefix(v, "<"), ".QueueName>")] = true
				}
			}
		}
	}
	queues := tpl.OfType("AWS::SQS::Queue")
	if len(queues) != 8 {
		t.Fatalf("want 4 queues (create, update, disable, sync requests) with 4 DLQs, got %v", queues)
	}
	for _, id := range queues {
		t.Run(id, func(t *testing.T) {
			p := tpl.Resources[id].Properties
			if p["FifoQueue"] != true {
				t.Error("not FIFO")
			}
			name := tpl.Eval(p["QueueName"], testParams)
			if strings.HasSuffix(name, "-dlq.fifo") {
				if !alarmed[id] {
					t.Error("DLQ without an alarm on its depth")
				}
				return
			}
			// A first backfill of a million SIMs publishes a million commands:
			// a FIFO queue without high throughput takes 300 a second.
			if p["DeduplicationScope"] != "messageGroup" || p["FifoThroughputLimit"] != "perMessageGroupId" {
				t.Errorf("deduplication scope %v, throughput limit %v: want high-throughput FIFO (messageGroup, perMessageGroupId)",
					p["DeduplicationScope"], p["FifoThroughputLimit"])
			}
			rp, _ := p["RedrivePolicy"].(map[string]any)
			target := tpl.Eval(rp["deadLetterTargetArn"], testParams)
			if !strings.HasSuffix(target, ".Arn>") || fmt.Sprint(rp["maxReceiveCount"]) != "5" {
				t.Errorf("redrive policy %v: want a DLQ of this template after 5 receives", rp)
			}
		})
	}
}

// TestConsumersScaleOnQueueDepth: provisioner and deactivator scale between
// the environment's bounds on the visible messages of their own queue.
func TestConsumersScaleOnQueueDepth(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	cases := []struct{ consumer, queue string }{{"Provisioner", "CreateQueue"}, {"Deactivator", "DisableQueue"}}
	for _, c := range cases {
		t.Run(c.consumer, func(t *testing.T) {
			t.Parallel()
			target, ok := tpl.Resources[c.consumer+"ScalableTarget"]
			if !ok || !strings.Contains(tpl.Eval(target.Properties["ResourceId"], testParams), "<"+c.consumer+"Service.Name>") {
				t.Fatalf("no scalable target on the %s service", c.consumer)
			}
			for _, dir := range []string{"ScaleOut", "ScaleIn"} {
				policy := c.consumer + dir
				if _, ok := tpl.Resources[policy]; !ok {
					t.Fatalf("no %s policy", policy)
				}
				found := false
				for _, id := range tpl.OfType("AWS::CloudWatch::Alarm") {
					p := tpl.Resources[id].Properties
					triggers := false
					for _, a := range asList(p["AlarmActions"]) {
						triggers = triggers || tpl.Eval(a, testParams) == "<"+policy+">"
					}
					dims := fmt.Sprint(p["Dimensions"])
					if triggers && p["MetricName"] == "ApproximateNumberOfMessagesVisible" && strings.Contains(dims, c.queue+" QueueName") {
						found = true
					}
				}
				if !found {
					t.Errorf("no queue-depth alarm of %s triggers %s", c.queue, policy)
				}
			}
		})
	}
}

// filterLiteral extracts the compared strings of a JSON metric filter pattern.
var filterLiteral = regexp.MustCompile(`\$\.msg\s*=\s*"([^"]+)"`)

// TestSyncStaleAlarm: the alarm on the time since the last successful sync
// counts log lines sim-poller really writes; renaming them breaks this test.
func TestSyncStaleAlarm(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	filter := tpl.Resources["SuccessfulSyncMetric"].Properties
	if tpl.Eval(filter["LogGroupName"], testParams) != "<LogGroupsimpoller>" {
		t.Fatalf("filter reads %v, not sim-poller's log group", filter["LogGroupName"])
	}
	lits := filterLiteral.FindAllStringSubmatch(fmt.Sprint(filter["FilterPattern"]), -1)
	if len(lits) == 0 {
		t.Fatalf("pattern %v compares no message", filter["FilterPattern"])
	}
	src := goSources(t, filepath.Join(root(t), "services", "sim-poller"))
	for _, l := range lits {
		if !strings.Contains(src, `"`+l[1]+`"`) {
			t.Errorf("sim-poller never logs %q: the filter would count nothing and the alarm would always fire", l[1])
		}
	}
	alarm := tpl.Resources["SyncStaleAlarm"].Properties
	metric := filter["MetricTransformations"].([]any)[0].(map[string]any)
	cases := []struct{ field, got, want string }{
		{"metric", fmt.Sprint(alarm["MetricName"]), fmt.Sprint(metric["MetricName"])},
		{"namespace", tpl.Eval(alarm["Namespace"], testParams), tpl.Eval(metric["MetricNamespace"], testParams)},
		{"missing data", fmt.Sprint(alarm["TreatMissingData"]), "breaching"},
		{"window", tpl.Eval(alarm["EvaluationPeriods"], testParams), "<SyncStaleAfterMinutes>"},
		{"period", fmt.Sprint(alarm["Period"]), "60"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("stale-sync alarm %s = %s, want %s", c.field, c.got, c.want)
		}
	}
}

func goSources(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			c, err := os.ReadFile(p)
			b.Write(c)
			return err
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestTaskDefinitions: placement, health check, logs and environment of every service.
func TestTaskDefinitions(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	specs := envSpecs(t)
	for _, svc := range Services {
		t.Run(svc, func(t *testing.T) {
			t.Parallel()
			ids := serviceResources[svc]
			task := tpl.Resources[ids.task].Properties
			if tpl.Eval(task["TaskRoleArn"], testParams) != "<"+ids.role+".Arn>" {
				t.Errorf("task role %v, want %s", task["TaskRoleArn"], ids.role)
			}
			compat := fmt.Sprint(task["RequiresCompatibilities"])
			c := task["ContainerDefinitions"].([]any)[0].(map[string]any)
			linux := fmt.Sprint(c["LinuxParameters"])
			if svc == "vpn-gateway" {
				if compat != "[EC2]" || !strings.Contains(linux, "NET_ADMIN") || !strings.Contains(linux, "/dev/net/tun") {
					t.Errorf("vpn-gateway needs EC2 with NET_ADMIN and /dev/net/tun: %s %s", compat, linux)
				}
			} else if compat != "[FARGATE]" || c["LinuxParameters"] != nil {
				t.Errorf("want Fargate without extra privileges: %s %s", compat, linux)
			}
			if hc := fmt.Sprint(c["HealthCheck"].(map[string]any)["Command"]); hc != "[CMD /app -healthcheck]" {
				t.Errorf("health check %s", hc)
			}
			if img := tpl.Eval(c["Image"], testParams); !strings.HasSuffix(img, "/"+svc+":<ImageTag>") {
				t.Errorf("image %s", img)
			}
			logs := c["LogConfiguration"].(map[string]any)["Options"].(map[string]any)
			group := strings.Trim(tpl.Eval(logs["awslogs-group"], testParams), "<>")
			if lg, ok := tpl.Resources[group]; !ok || lg.Properties["RetentionInDays"] == nil {
				t.Errorf("log group %s missing or without retention", group)
			}
			env := map[string]string{}
			for _, e := range asList(c["Environment"]) {
				m := e.(map[string]any)
				if cond, ok := m["Fn::If"].([]any); ok { // checked with the condition true
					m = cond[1].(map[string]any)
				}
				env[fmt.Sprint(m["Name"])] = tpl.Eval(m["Value"], testParams)
			}
			if p := specs[svc].Check(env, ids.secrets...); len(p) > 0 {
				t.Errorf("environment: %s", strings.Join(p, "; "))
			}
			for k, v := range env {
				if strings.Contains(k, "_VALUE") || strings.Contains(k, "PASSWORD") && !strings.HasSuffix(k, "_SECRET_ID") {
					t.Errorf("%s=%s: secrets come from Secrets Manager (_SECRET_ID) in AWS", k, v)
				}
			}
		})
	}
}

// TestLogGroupsHaveRetention: every service has its log group (its
// collector sidecar writes there too), and no log group keeps logs forever.
func TestLogGroupsHaveRetention(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	groups := tpl.OfType("AWS::Logs::LogGroup")
	for _, svc := range Services {
		if _, ok := tpl.Resources["LogGroup"+strings.ReplaceAll(svc, "-", "")]; !ok {
			t.Errorf("no log group for %s", svc)
		}
	}
	for _, id := range groups {
		if tpl.Resources[id].Properties["RetentionInDays"] == nil {
			t.Errorf("%s has no retention", id)
		}
	}
}

// TestIoTQuotasAreSharedStackParameters: the account's IoT quotas and the
// consumers' task bounds are parameters every environment sets; the template
// hands the quotas to both consumers, and their default is the services' own
// (IOT_QUOTAS), so a stack without overrides runs as the code documents.
func TestIoTQuotasAreSharedStackParameters(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	field, _ := reflect.TypeFor[messaging.ConsumerSettings]().FieldByName("IoTQuotas")
	tag := field.Tag.Get("env")
	codeDefault := tag[strings.Index(tag, "default=")+len("default="):]
	param, _ := tpl.Parameters["IoTQuotas"].(map[string]any)
	if got := strings.TrimSpace(fmt.Sprint(param["Default"])); got != codeDefault {
		t.Errorf("IoTQuotas default %q, services' IOT_QUOTAS default %q", got, codeDefault)
	}
	for _, task := range []string{"ProvisionerTask", "DeactivatorTask"} {
		env := taskEnv(t, tpl, task)
		if env["IOT_QUOTAS"] != "<IoTQuotas>" || env["LEASE_TABLE"] == "" {
			t.Errorf("%s: IOT_QUOTAS=%q LEASE_TABLE=%q, want the IoTQuotas parameter and the lease table (quota heartbeats)", task, env["IOT_QUOTAS"], env["LEASE_TABLE"])
		}
	}
	for _, target := range []string{"ProvisionerScalableTarget", "DeactivatorScalableTarget"} {
		max := tpl.Eval(tpl.Resources[target].Properties["MaxCapacity"], testParams)
		if !strings.Contains(max, "MaxTasks") {
			t.Errorf("%s MaxCapacity %q: want the environment's task bound parameter", target, max)
		}
	}
	for _, envName := range []string{"production", "staging"} {
		vals := readEnvFile(t, filepath.Join(root(t), "deployments", "environments", envName+".env"))
		for _, p := range []string{"IoTQuotas", "ProvisionerMaxTasks", "DeactivatorMaxTasks", "CertAuthority"} {
			if vals[p] == "" {
				t.Errorf("%s.env does not set %s", envName, p)
			}
		}
	}
}

func taskEnv(t *testing.T, tpl *Template, task string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range asList(tpl.Resources[task].Properties["ContainerDefinitions"]) {
		for _, e := range asList(c.(map[string]any)["Environment"]) {
			kv := e.(map[string]any)
			out[fmt.Sprint(kv["Name"])] = tpl.Eval(kv["Value"], testParams)
		}
	}
	return out
}
