package deploy

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// statefulTypes hold data that a stack deletion or a replacement must not
// take with it by accident.
var statefulTypes = map[string]bool{
	"AWS::SQS::Queue": true, "AWS::DynamoDB::Table": true, "AWS::SecretsManager::Secret": true, "AWS::Logs::LogGroup": true,
	"AWS::KMS::Key": true, "AWS::S3::Bucket": true, "AWS::Backup::BackupVault": true, "AWS::APS::Workspace": true,
}

// TestStatefulResourcesOutliveTheStack: every resource holding data has a
// deletion policy (production keeps it; non-production may delete it) and
// keeps the old resource when an update replaces it.
func TestStatefulResourcesOutliveTheStack(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	var ids []string
	for id, r := range tpl.Resources {
		if statefulTypes[r.Type] {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	if len(ids) < 20 {
		t.Fatalf("only %d stateful resources found: %v", len(ids), ids)
	}
	for _, environment := range []string{"production", "non-production"} {
		env := keyEnv(t, tpl, map[string]string{"Environment": environment})
		for _, id := range ids {
			r := tpl.Resources[id]
			del := fmt.Sprint(resolveIf(r.DeletionPolicy, env))
			if r.DeletionPolicy == nil || (environment == "production" && del != "Retain") || (del != "Retain" && del != "Delete" && del != "Snapshot") {
				t.Errorf("%s (%s), %s: DeletionPolicy %v; want one, Retain in production", id, r.Type, environment, del)
			}
			if fmt.Sprint(r.UpdateReplacePolicy) != "Retain" {
				t.Errorf("%s (%s): UpdateReplacePolicy %v, want Retain", id, r.Type, r.UpdateReplacePolicy)
			}
		}
	}
}

// TestQueuesKeepMessagesTwoWeeks: a command waiting for a stopped
// consumer outlives a long weekend: every queue keeps messages 14 days, the
// most SQS allows (the default is 4).
func TestQueuesKeepMessagesTwoWeeks(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	for _, id := range tpl.OfType("AWS::SQS::Queue") {
		if got := fmt.Sprint(tpl.Resources[id].Properties["MessageRetentionPeriod"]); got != "1209600" {
			t.Errorf("%s keeps messages %s s, want 1209600 (14 days)", id, got)
		}
	}
}

// TestEveryLogHasARetention: every log group of the stack has a retention,
// and whatever writes logs (Lambda functions, API access logs, ECS tasks)
// writes them to one of those groups rather than one it would create
// without retention.
func TestEveryLogHasARetention(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	groups := map[string]bool{}
	for _, id := range tpl.OfType("AWS::Logs::LogGroup") {
		if tpl.Resources[id].Properties["RetentionInDays"] == nil {
			t.Errorf("%s keeps logs forever", id)
		}
		groups["<"+id+">"] = true
		groups["<"+id+".Arn>"] = true
	}
	for _, id := range tpl.OfType("AWS::Lambda::Function") {
		lc, _ := tpl.Resources[id].Properties["LoggingConfig"].(map[string]any)
		if !groups[tpl.Eval(lc["LogGroup"], testParams)] {
			t.Errorf("function %s logs to %v, not a log group of the stack (the default one keeps logs forever)", id, lc)
		}
	}
	for _, id := range tpl.OfType("AWS::ApiGateway::Stage") {
		als, _ := tpl.Resources[id].Properties["AccessLogSetting"].(map[string]any)
		if !groups[tpl.Eval(als["DestinationArn"], testParams)] {
			t.Errorf("stage %s logs to %v", id, als)
		}
	}
}

// TestGeneratedSecretsRotate: the secrets the stack generates and the
// code reads as rotating (libs/secrets: AWSCURRENT, AWSPENDING and
// AWSPREVIOUS all accepted) rotate on a schedule through the stack's
// rotation function, which may touch exactly those; the secrets 1NCE
// issues have their procedure in docs/deployment.md.
func TestGeneratedSecretsRotate(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	scheduled := map[string]string{}
	for _, id := range tpl.OfType("AWS::SecretsManager::RotationSchedule") {
		p := tpl.Resources[id].Properties
		if tpl.Eval(p["RotationLambdaARN"], testParams) != "<SecretRotationFunction.Arn>" {
			t.Errorf("%s rotates with %v", id, p["RotationLambdaARN"])
		}
		scheduled[tpl.Eval(p["SecretId"], testParams)] = fmt.Sprint(p["RotationRules"])
	}
	var secrets []string
	for _, id := range tpl.OfType("AWS::SecretsManager::Secret") {
		secrets = append(secrets, "<"+id+">")
		if !strings.Contains(scheduled["<"+id+">"], "rate(") {
			t.Errorf("secret %s has no rotation schedule (%v)", id, scheduled)
		}
	}
	sort.Strings(secrets)
	grants, err := tpl.RoleGrants("SecretRotationRole", testParams)
	if err != nil {
		t.Fatal(err)
	}
	var touched []string
	for _, g := range grants {
		if strings.HasPrefix(string(g.Action), "secretsmanager:") && g.Resource != "*" && !contains(touched, g.Resource) {
			touched = append(touched, g.Resource)
		}
		if g.Resource == "*" && g.Action != "secretsmanager:GetRandomPassword" {
			t.Errorf("the rotation function may %s on every resource", g.Action)
		}
	}
	sort.Strings(touched)
	if fmt.Sprint(touched) != fmt.Sprint(secrets) {
		t.Errorf("the rotation function may change %v, want exactly the stack's secrets %v", touched, secrets)
	}
	if tpl.Resources["SecretRotationPermission"].Properties["Principal"] != "secretsmanager.amazonaws.com" {
		t.Error("Secrets Manager may not invoke the rotation function")
	}
	doc := deploymentSection(t, "## Secrets: rotation")
	for _, external := range []string{"once-password", "openvpn-config", "openvpn-auth", "gateway-tls", "datastreamer-credentials", "onboarding-api-key"} {
		if !strings.Contains(doc, "<prefix>/"+external) {
			t.Errorf("docs/deployment.md (Secrets: rotation) says nothing of <prefix>/%s", external)
		}
	}
}

// deploymentSection returns a "## " section of docs/deployment.md.
func deploymentSection(t *testing.T, heading string) string {
	t.Helper()
	doc := string(readFile(t, filepath.Join(root(t), "docs", "deployment.md")))
	_, section, ok := strings.Cut(doc, "\n"+heading+"\n")
	if !ok {
		t.Fatalf("docs/deployment.md has no section %q", heading)
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	return section
}

// TestSimTableIsBackedUp: production backs the SIM table up daily with AWS
// Backup into a vault that outlives the stack, besides point-in-time
// recovery; docs/deployment.md says how to restore, what losing the
// device-key key means, and the break-glass path to the key policies.
func TestSimTableIsBackedUp(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	sel, ok := tpl.Resources["BackupSelection"]
	if !ok {
		t.Fatal("no BackupSelection: the SIM table is backed up by point-in-time recovery only")
	}
	bs, _ := sel.Properties["BackupSelection"].(map[string]any)
	if sel.Condition != "IsProduction" || fmt.Sprint(tpl.Eval(asList(bs["Resources"])[0], testParams)) != "<SimTable.Arn>" ||
		tpl.Eval(bs["IamRoleArn"], testParams) != "<BackupRole.Arn>" {
		t.Errorf("backup selection %v (condition %s): want the SIM table, in production", bs, sel.Condition)
	}
	plan := fmt.Sprint(tpl.Resources["BackupPlan"].Properties["BackupPlan"])
	if !strings.Contains(plan, "cron(0 3 * * ? *)") || !strings.Contains(plan, "DeleteAfterDays:35") || !strings.Contains(plan, "TargetBackupVault:map[Ref:BackupVault]") {
		t.Errorf("backup plan %s: want a daily backup kept 35 days in the stack's vault", plan)
	}
	for heading, words := range map[string][]string{
		"## Recovery":                           {"restore", "point-in-time", "device-key", "unrecoverable", "reissue"},
		"## Break-glass: changing a key policy": {"PutKeyPolicy", "<prefix>-kms-key-tampering", "KeyAdminPrincipalArn"},
	} {
		section := deploymentSection(t, heading)
		for _, w := range words {
			if !strings.Contains(strings.ToLower(section), strings.ToLower(w)) {
				t.Errorf("docs/deployment.md %q does not mention %s", heading, w)
			}
		}
	}
}
