package deploy

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

// TestEveryRoleIsAccountedFor: each IAM role of the template is a
// service's task role (checked against its code), a role people assume
// (checked against its program), or a role an AWS service assumes (with
// what for); a new role must say which.
func TestEveryRoleIsAccountedFor(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	known := map[string]string{}
	for svc, r := range serviceResources {
		known[r.role] = "task role of " + svc
	}
	for id, why := range PeopleRoles {
		known[id] = why
	}
	for id, why := range ServiceRoles {
		known[id] = why
	}
	seen := map[string]bool{}
	for _, id := range tpl.OfType("AWS::IAM::Role") {
		seen[id] = true
		if known[id] == "" {
			t.Errorf("role %s is neither a task role, nor in PeopleRoles or ServiceRoles (tests/deploy/iam.go): say who assumes it and why", id)
		}
	}
	for id := range known {
		if !seen[id] {
			t.Errorf("%s is listed in tests/deploy but is no role of the template any more: remove it", id)
		}
	}
}

// trustedBy returns the principals a role's trust policy lets assume it.
func trustedBy(t *testing.T, tpl *Template, role string) []string {
	t.Helper()
	st, err := tpl.statements(role, tpl.Resources[role].Properties["AssumeRolePolicyDocument"], keyEnv(t, tpl, nil))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range st {
		if s.Effect == "Allow" && contains(s.Actions, "sts:AssumeRole") {
			out = append(out, s.Principals...)
		}
	}
	return out
}

// caSetupNeverCalledInAWS are operations the CA setup reaches that never
// run against a deployed stack, each with why; the test fails when one is
// no longer reached.
var caSetupNeverCalledInAWS = map[Operation]string{
	{Service: "kms", Name: "CreateKey"}: "bootstrap.EnsureCA creates the CA key only where none has the alias " +
		"(the local emulator); in AWS the stack's CASigningKey has it",
	{Service: "kms", Name: "CreateAlias"}:            "likewise, with the key it created",
	{Service: "dynamodb", Name: "DescribeEndpoints"}: NeverCalled[Operation{Service: "dynamodb", Name: "DescribeEndpoints"}],
}

// TestCASetupRoleGrantsExactlyWhatTheSetupCalls: the role make deploy
// assumes for the one-time CA setup grants exactly the AWS operations of
// `simbridge ca init` (the call graph of simbridge's CA command: its
// environment check and bootstrap.EnsureCA, which deploy.sh's
// `bootstrap -ca-only` runs too), counting what the CA key's policy grants
// it; anyone of the account that IAM allows may assume it (deploy.sh does).
func TestCASetupRoleGrantsExactlyWhatTheSetupCalls(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	byGroup, _ := simbridgeAnalysis(t)
	var ops []Operation
	reached := map[Operation]bool{}
	for _, op := range byGroup["deployer"] {
		if _, ok := caSetupNeverCalledInAWS[op]; ok {
			reached[op] = true
			continue
		}
		ops = append(ops, op)
	}
	for op, why := range caSetupNeverCalledInAWS {
		if !reached[op] {
			t.Errorf("caSetupNeverCalledInAWS lists %s, which the CA setup no longer reaches (%s): remove it", op, why)
		}
	}
	want, _ := ActionsFor(ops)
	if !contains(actionStrings(want), "kms:Sign") || !contains(actionStrings(want), "iot:RegisterCACertificate") {
		t.Fatalf("the CA setup reaches %v: the call-graph analysis is broken", want)
	}
	grants, err := tpl.RoleGrants("CASetupRole", testParams)
	if err != nil {
		t.Fatal(err)
	}
	keyGrants, err := tpl.KeyPolicyGrants("CASetupRole", keyEnv(t, tpl, nil))
	if err != nil {
		t.Fatal(err)
	}
	compareGrants(t, append(grants, keyGrants...), want, "the CA setup calls, CASetupRole may not", "CASetupRole may, the CA setup never calls")
	if got := trustedBy(t, tpl, "CASetupRole"); fmt.Sprint(got) != "[arn:aws:iam::123456789012:root]" {
		t.Errorf("CASetupRole is trusted by %v, want the account (whoever IAM lets assume it)", got)
	}
}

func actionStrings(as []Action) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = string(a)
	}
	return out
}

// TestAdopterRole: the role `simbridge adopt` runs as may seal keys with the
// device-key key (Encrypt, for a device private key's encryption context,
// on the key that has the environment's alias) and use KMS no other way;
// the account's identities assume it. What else adopt calls is checked
// against its own call graph.
func TestAdopterRole(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	env := keyEnv(t, tpl, nil)
	who, err := tpl.Identities(env)
	if err != nil {
		t.Fatal(err)
	}
	adopter := identity(who, "AdopterRole")
	var kms []string
	for _, st := range adopter.IAM {
		for _, a := range st.Actions {
			if strings.HasPrefix(strings.ToLower(a), "kms:") {
				kms = append(kms, fmt.Sprintf("%s on %v if %v", a, st.Resources, st.Conditions))
			}
		}
	}
	sort.Strings(kms)
	want := "kms:Encrypt on [arn:aws:kms:eu-central-1:123456789012:key/*] if " +
		"map[ForAnyValue:StringEquals:map[kms:ResourceAliases:[alias/simbridge-test-device-keys]] " +
		"Null:map[kms:EncryptionContext:iccid:[false]] StringEquals:map[kms:EncryptionContext:purpose:[device-private-key]]]"
	if len(kms) != 1 || kms[0] != want {
		t.Errorf("AdopterRole's KMS grants:\n%s\nwant only:\n%s", strings.Join(kms, "\n"), want)
	}
	if got := trustedBy(t, tpl, "AdopterRole"); fmt.Sprint(got) != "[arn:aws:iam::123456789012:root]" {
		t.Errorf("AdopterRole is trusted by %v, want the account (whoever IAM lets assume it)", got)
	}
	policies := asList(tpl.Resources["AdopterRole"].Properties["Policies"])
	if len(policies) != 1 || policies[0].(map[string]any)["PolicyName"] != "adopter" {
		t.Errorf("AdopterRole's inline policies %v: want one, named adopter (simbridge adopt's grants go there)", policies)
	}
}
