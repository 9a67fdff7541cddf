package deploy

import (
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/simbridge/simbridge/libs/testkit"
)

var (
	progsOnce sync.Once
	progsBy   map[string]Program
	progsErr  error
)

// programs derives, once per test binary, what each service's program can
// reach: AWS operations and metric definitions (see AnalyzePrograms).
// skipAnalysisShort skips whole-program analyses (about a minute each)
// under -short: `make test-unit` runs in seconds; `make test` runs them.
func skipAnalysisShort(t *testing.T) {
	t.Helper()
	testkit.SkipShortNeeding(t, "a whole-program analysis of the services' AWS calls")
}

func programs(t *testing.T) map[string]Program {
	t.Helper()
	skipAnalysisShort(t)
	progsOnce.Do(func() {
		progsBy = map[string]Program{}
		for _, s := range Services {
			var got map[string]Program
			if got, progsErr = AnalyzePrograms(root(t), "./services/"+s+"/cmd/"+s); progsErr != nil {
				return
			}
			for _, p := range got {
				progsBy[s] = p
			}
		}
	})
	if progsErr != nil {
		t.Fatal(progsErr)
	}
	return progsBy
}

// calledOperations is, per service, the AWS operations its program can reach.
func calledOperations(t *testing.T) map[string][]Operation {
	t.Helper()
	out := map[string][]Operation{}
	for s, p := range programs(t) {
		out[s] = p.Operations
	}
	return out
}

// TestTaskRolesGrantExactlyTheCalledOperations is the least-privilege check:
// for each service, the IAM actions of the AWS operations its code can call
// (derived from the call graph of its main package, so a new SDK call in
// the code fails here until the role allows it) are all granted to its task
// role, and the role grants nothing else. Wildcard resources are allowed
// only for actions IAM cannot scope.
func TestTaskRolesGrantExactlyTheCalledOperations(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	env := keyEnv(t, tpl, nil)
	ops := calledOperations(t)
	excusedAll := map[Operation]bool{}
	for _, svc := range Services {
		want, excused := ActionsFor(ops[svc])
		for op := range excused {
			excusedAll[op] = true
		}
		t.Run(svc, func(t *testing.T) {
			if len(want) == 0 {
				t.Fatal("no AWS operation found: the call-graph analysis is broken")
			}
			grants, err := tpl.RoleGrants(serviceResources[svc].role, testParams)
			if err != nil {
				t.Fatal(err)
			}
			keyGrants, err := tpl.KeyPolicyGrants(serviceResources[svc].role, env)
			if err != nil {
				t.Fatal(err)
			}
			compareGrants(t, append(grants, keyGrants...), want, "code calls, neither role nor key policy allows", "role or key policy allows, code never calls")
		})
	}
	for op, why := range NeverCalled {
		if !excusedAll[op] {
			t.Errorf("NeverCalled lists %s, which no service reaches any more (%s): remove it", op, why)
		}
	}
}

// compareGrants reports every action in want that grants lacks (missing),
// every granted action nothing in want needs (extra), wildcard actions, and
// wildcard resources on actions IAM can scope. Actions any identity may call
// need no grant.
func compareGrants(t *testing.T, grants []Grant, want []Action, missingMsg, extraMsg string) {
	t.Helper()
	granted := map[Action]bool{}
	for _, g := range grants {
		granted[g.Action] = true
		if strings.Contains(string(g.Action), "*") {
			t.Errorf("wildcard action %s", g.Action)
		}
		if g.Resource == "*" && !NeedsWildcardResource[g.Action] {
			t.Errorf("%s granted on every resource; scope it to its resources", g.Action)
		}
	}
	var missing, extra []string
	for _, a := range want {
		if NoPermissionNeeded[a] {
			continue
		}
		if !granted[a] {
			missing = append(missing, string(a))
		}
		delete(granted, a)
	}
	for a := range granted {
		extra = append(extra, string(a))
	}
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("%s: %v", missingMsg, missing)
	}
	if len(extra) > 0 {
		t.Errorf("%s: %v", extraMsg, extra)
	}
}

// TestActionsFor pins the mapping from SDK operations to IAM actions.
func TestActionsFor(t *testing.T) {
	t.Parallel()
	cases := []struct {
		op   Operation
		want Action
	}{
		{Operation{"dynamodb", "Query"}, "dynamodb:Query"},
		{Operation{"iotdataplane", "Publish"}, "iot:Publish"},
		{Operation{"sqs", "DeleteMessageBatch"}, "sqs:DeleteMessage"},
		{Operation{"sqs", "CreateQueue"}, ""},
	}
	for _, c := range cases {
		got, _ := ActionsFor([]Operation{c.op})
		if (c.want == "" && len(got) != 0) || (c.want != "" && (len(got) != 1 || got[0] != c.want)) {
			t.Errorf("ActionsFor(%s) = %v, want %q", c.op, got, c.want)
		}
	}
}
