package deploy

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
)

// simbridgeCommands groups the constructors of simbridge's commands: the
// one-time CA setup runs with the deployer's permissions (deploy.sh), the
// adoption of 1NCE's reference system with the stack's AdopterRole (once,
// during a migration), every other command with the operator policy's.
func simbridgeCommands(fn string) string {
	switch {
	case fn == "newCACommand":
		return "deployer"
	case fn == "newAdoptCommand":
		return "adopter"
	case strings.HasPrefix(fn, "new") && strings.HasSuffix(fn, "Command"):
		return "operator"
	}
	return ""
}

var (
	simbridgeOnce   sync.Once
	simbridgeGroups map[string][]Operation
	simbridgeAll    []Operation
	simbridgeErr    error
)

// simbridgeAnalysis derives, once per test binary, the AWS operations of
// each group of simbridge's commands (AnalyzeCommands with
// simbridgeCommands) and all main reaches.
func simbridgeAnalysis(t *testing.T) (map[string][]Operation, []Operation) {
	t.Helper()
	skipAnalysisShort(t)
	simbridgeOnce.Do(func() {
		simbridgeGroups, simbridgeAll, simbridgeErr = AnalyzeCommands(root(t), OperatorPolicies["OperatorPolicy"],
			"github.com/simbridge/simbridge/tools/opscli", simbridgeCommands)
	})
	if simbridgeErr != nil {
		t.Fatal(simbridgeErr)
	}
	return simbridgeGroups, simbridgeAll
}

// operatorNeverCalled are operations simbridge's operator commands reach in
// the call graph but never run, each with the reason; the test fails when
// one is no longer reached. (sqs:CreateQueue, excused for the services,
// is a real call here: the failure-topic watch creates its queue.)
var operatorNeverCalled = map[Operation]string{
	{Service: "kms", Name: "Sign"}: "crypto.Signer calls in crypto/tls and crypto/x509 resolve to the CA's KMS signer, " +
		"which only `ca init` creates (the call graph is flow-insensitive)",
	{Service: "dynamodb", Name: "DescribeEndpoints"}: NeverCalled[Operation{Service: "dynamodb", Name: "DescribeEndpoints"}],
}

// operatorActions maps operations to IAM actions, leaving out
// operatorNeverCalled; reached says which of those were seen.
func operatorActions(ops []Operation) ([]Action, map[Operation]bool) {
	reached := map[Operation]bool{}
	var keep []Operation
	for _, op := range ops {
		if _, ok := operatorNeverCalled[op]; ok {
			reached[op] = true
			continue
		}
		keep = append(keep, op)
	}
	set := map[Action]bool{}
	for _, op := range keep {
		prefix := op.Service
		if p, ok := iamServicePrefix[prefix]; ok {
			prefix = p
		}
		a := prefix + ":" + op.Name
		if b, ok := batchActions[a]; ok {
			a = b
		}
		set[Action(a)] = true
	}
	out := make([]Action, 0, len(set))
	for a := range set {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, reached
}

// TestOperatorPolicyGrantsExactlyWhatSimbridgeCalls is the least-privilege
// check of the operators' policy: the IAM actions of the AWS operations
// simbridge's commands can reach (its call graph from main, walked from
// each command's functions) are all granted, and nothing else is. The CA
// setup's operations are left to the deployer, and every operation main
// reaches belongs to one of the two.
func TestOperatorPolicyGrantsExactlyWhatSimbridgeCalls(t *testing.T) {
	t.Parallel()
	skipAnalysisShort(t)
	byGroup, all := simbridgeAnalysis(t)
	grouped := map[Operation]bool{}
	for _, ops := range byGroup {
		for _, op := range ops {
			grouped[op] = true
		}
	}
	for _, op := range all {
		if !grouped[op] {
			t.Errorf("%s is reachable from main but from no command: the command grouping is broken", op)
		}
	}
	want, reached := operatorActions(byGroup["operator"])
	for op, why := range operatorNeverCalled {
		if !reached[op] {
			t.Errorf("operatorNeverCalled lists %s, which simbridge no longer reaches (%s): remove it", op, why)
		}
	}
	if len(want) < 10 {
		t.Fatalf("only %v found: the call-graph analysis is broken", want)
	}
	deployerOnly, _ := operatorActions(byGroup["deployer"])
	grants, err := loadTemplate(t).PolicyGrants("OperatorPolicy", testParams)
	if err != nil {
		t.Fatal(err)
	}
	compareGrants(t, grants, want, "simbridge calls, operator policy does not allow", "operator policy allows, simbridge never calls")
	// The 1NCE API password can change SIMs: operators never read it (nor
	// any secret); simbridge asks sim-poller what 1NCE says.
	for _, g := range grants {
		if strings.HasPrefix(string(g.Action), "secretsmanager:") {
			t.Errorf("operator policy grants %s on %s: operators must hold no 1NCE credential", g.Action, g.Resource)
		}
	}
	for _, a := range want {
		if strings.HasPrefix(string(a), "secretsmanager:") {
			t.Errorf("simbridge's operator commands call %s: they must hold no 1NCE credential", a)
		}
	}
	operator := map[Action]bool{}
	for _, a := range want {
		operator[a] = true
	}
	var deployer []string
	for _, a := range deployerOnly {
		if !operator[a] {
			deployer = append(deployer, string(a))
		}
	}
	for _, a := range []string{"iot:RegisterCACertificate", "ssm:PutParameter"} {
		if !strings.Contains(fmt.Sprint(deployer), a) {
			t.Errorf("ca init should need %s (the deployer's), found only %v", a, deployer)
		}
	}
	t.Logf("operator: %v\ndeployer only (ca init): %v", want, deployer)
}

// TestECSExec: the Fargate services run with ECS Exec, and their task roles
// may open the SSM agent's channels, nothing more.
func TestECSExec(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	fargate := map[string]bool{}
	for id, r := range tpl.Resources {
		if r.Type != "AWS::ECS::Service" || r.Properties["LaunchType"] != "FARGATE" {
			continue
		}
		if r.Properties["EnableExecuteCommand"] != true {
			t.Errorf("%s: EnableExecuteCommand is not true", id)
		}
		task := tpl.Resources[strings.Trim(tpl.Eval(r.Properties["TaskDefinition"], testParams), "<>")]
		fargate[tpl.Eval(task.Properties["TaskRoleArn"], testParams)] = true
	}
	if len(fargate) != 4 {
		t.Fatalf("want the four Fargate services' task roles, got %v", fargate)
	}
	pol := tpl.Resources["ExecCommandPolicy"]
	attached := map[string]bool{}
	for _, r := range asList(pol.Properties["Roles"]) {
		attached["<"+strings.Trim(tpl.Eval(r, testParams), "<>")+".Arn>"] = true
	}
	if fmt.Sprint(sortedKeys(attached)) != fmt.Sprint(sortedKeys(fargate)) {
		t.Errorf("exec policy on %v, want the Fargate task roles %v", sortedKeys(attached), sortedKeys(fargate))
	}
	grants, err := tpl.PolicyGrants("ExecCommandPolicy", testParams)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range grants {
		got = append(got, string(g.Action)+" on "+g.Resource)
	}
	sort.Strings(got)
	want := []string{"ssmmessages:CreateControlChannel on *", "ssmmessages:CreateDataChannel on *",
		"ssmmessages:OpenControlChannel on *", "ssmmessages:OpenDataChannel on *"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("exec policy grants %v, want %v", got, want)
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
