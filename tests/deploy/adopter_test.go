package deploy

import (
	"testing"
)

// adoptWrites are what only adopting 1NCE's reference system needs: the
// operators' policy must never grant them (an operator changes records and
// certificates only through the services' queues).
var adoptWrites = []Action{"dynamodb:PutItem", "dynamodb:UpdateItem", "iot:UpdateThing", "iot:AddThingToThingGroup",
	"iot:AttachPolicy", "iot:DetachPolicy", "kms:Encrypt"}

// TestAdopterRoleGrantsExactlyWhatAdoptCalls is the least-privilege check
// of AdopterRole, the role a migration assumes for `simbridge adopt`: the
// IAM actions of the AWS operations adopt can reach (the call graph of
// simbridge's main, walked from newAdoptCommand's functions) are all
// granted, nothing else is, and none of adopt's writes leaks into the
// operators' policy.
func TestAdopterRoleGrantsExactlyWhatAdoptCalls(t *testing.T) {
	t.Parallel()
	byGroup, _ := simbridgeAnalysis(t)
	want, _ := operatorActions(byGroup["adopter"])
	if len(want) < 10 {
		t.Fatalf("only %v found: the call-graph analysis is broken", want)
	}
	t.Logf("adopter: %v", want)
	tpl := loadTemplate(t)
	grants, err := tpl.RoleGrants("AdopterRole", testParams)
	if err != nil {
		t.Fatal(err)
	}
	compareGrants(t, grants, want, "adopt calls, AdopterRole does not allow", "AdopterRole allows, adopt never calls")
	needed := map[Action]bool{}
	for _, a := range want {
		needed[a] = true
	}
	for _, a := range adoptWrites {
		if !needed[a] {
			t.Errorf("adopt should need %s; found %v", a, want)
		}
	}
	operator, err := tpl.PolicyGrants("OperatorPolicy", testParams)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range operator {
		for _, a := range adoptWrites {
			if g.Action == a {
				t.Errorf("the operators' policy grants %s on %s, which only adopt needs", a, g.Resource)
			}
		}
	}
}
