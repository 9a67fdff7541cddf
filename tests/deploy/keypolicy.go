package deploy

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// A KMS key answers a request when its key policy allows the caller (a
// statement naming the caller, or one naming the account's root, which
// delegates to the caller's IAM policies) and no statement denies it
// (https://docs.aws.amazon.com/kms/latest/developerguide/determining-access.html).
// KeyAccess evaluates exactly that for the principals of the template, so a
// test can say who can Decrypt or Sign with a key without trusting comments.

// Statement is one statement of a resource or identity policy, evaluated.
type Statement struct {
	Sid    string
	Effect string
	// Principals are the AWS principals a key policy statement names
	// ("*" for anyone, an account's ":root", a role as "<Role.Arn>").
	Principals []string
	Actions    []string
	// Resources are those of an identity policy statement.
	Resources []string
	// Conditions is operator -> condition key -> values, as written.
	Conditions map[string]map[string][]string
}

// Env fixes what a template is evaluated with: parameter values (as for
// Template.Eval) and the value of each condition Fn::If consults.
type Env struct {
	Params     map[string]string
	Conditions map[string]bool
}

// condition is the value of a template condition; a condition the test did
// not fix is a mistake in the test.
func (env Env) condition(name string) bool {
	val, known := env.Conditions[name]
	if !known {
		panic(fmt.Sprintf("condition %s has no value in the evaluation environment", name))
	}
	return val
}

// resolveIf replaces every Fn::If by the branch its condition selects in
// env; Ref AWS::NoValue (an omitted branch) becomes nil.
func resolveIf(v any, env Env) any {
	switch x := v.(type) {
	case map[string]any:
		if f, ok := x["Fn::If"].([]any); ok && len(f) == 3 {
			name, _ := f[0].(string)
			if env.condition(name) {
				return resolveIf(f[1], env)
			}
			return resolveIf(f[2], env)
		}
		if x["Ref"] == "AWS::NoValue" {
			return nil
		}
		out := map[string]any{}
		for k, e := range x {
			out[k] = resolveIf(e, env)
		}
		return out
	case []any:
		var out []any
		for _, e := range x {
			if r := resolveIf(e, env); r != nil {
				out = append(out, r)
			}
		}
		return out
	}
	return v
}

// statements decodes a policy document's statements with intrinsic
// functions resolved; it refuses what the evaluation cannot see through.
func (t *Template) statements(owner string, doc any, env Env) ([]Statement, error) {
	d, _ := resolveIf(doc, env).(map[string]any)
	var out []Statement
	for _, s := range asList(d["Statement"]) {
		m, _ := s.(map[string]any)
		for _, bad := range []string{"NotAction", "NotPrincipal", "NotResource"} {
			if _, ok := m[bad]; ok {
				return nil, fmt.Errorf("%s: %s cannot be evaluated (it grants or denies more than it names)", owner, bad)
			}
		}
		st := Statement{Sid: fmt.Sprint(m["Sid"]), Effect: fmt.Sprint(m["Effect"])}
		switch p := m["Principal"].(type) {
		case nil:
		case string:
			st.Principals = []string{p}
		case map[string]any:
			for kind, v := range p {
				if kind != "AWS" {
					return nil, fmt.Errorf("%s: principal kind %s in a key policy", owner, kind)
				}
				for _, e := range asList(v) {
					st.Principals = append(st.Principals, t.Eval(e, env.Params))
				}
			}
		}
		for _, a := range asList(m["Action"]) {
			st.Actions = append(st.Actions, fmt.Sprint(a))
		}
		for _, r := range asList(m["Resource"]) {
			st.Resources = append(st.Resources, t.Eval(r, env.Params))
		}
		if c, ok := m["Condition"].(map[string]any); ok {
			st.Conditions = map[string]map[string][]string{}
			for op, kv := range c {
				st.Conditions[op] = map[string][]string{}
				for k, vals := range kv.(map[string]any) {
					for _, v := range asList(vals) {
						st.Conditions[op][k] = append(st.Conditions[op][k], t.Eval(v, env.Params))
					}
				}
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// KeyPolicy returns the evaluated statements of a KMS key resource's policy.
func (t *Template) KeyPolicy(keyID string, env Env) ([]Statement, error) {
	r, ok := t.Resources[keyID]
	if !ok || r.Type != "AWS::KMS::Key" {
		return nil, fmt.Errorf("%s is not a KMS key of the template", keyID)
	}
	return t.statements(keyID, r.Properties["KeyPolicy"], env)
}

// Identity is a principal whose requests a key policy is asked about.
type Identity struct {
	// Name is how a report names it (a role's logical id, or a description).
	Name string
	// ARN is how a key policy names it ("<Role.Arn>" for a role of the template).
	ARN string
	// IAM are its identity policies' statements.
	IAM []Statement
	// Unknown lists identity policies that were not evaluated (AWS managed
	// policies, or an identity outside the template): they may grant anything.
	Unknown []string
}

// Access is the answer for one identity and one action on one key.
type Access struct {
	Allowed bool
	// Via names the statements that allow it, and how.
	Via []string
	// Conditions are those of the allowing key policy statements.
	Conditions []map[string]map[string][]string
}

// KeyAccess decides whether who may call action on the key whose ARN (as
// the template evaluates it, "<Key.Arn>") is keyARN, under keyPolicy.
// A key policy statement naming the account root ("arn:…:root") lets the
// account's IAM policies grant the action: then the identity's own
// statements must allow it on the key (or it has policies not evaluated).
// Conditions of key policy statements are reported, not evaluated; a Deny
// statement with conditions is refused, since whether it applies would
// depend on the request.
func KeyAccess(keyPolicy []Statement, keyARN string, who Identity, action string, account string) (Access, error) {
	var a Access
	for _, st := range keyPolicy {
		if !matchesAny(st.Actions, action) || !namesPrincipal(st.Principals, who.ARN, account) {
			continue
		}
		switch st.Effect {
		case "Deny":
			if len(st.Conditions) > 0 {
				return Access{}, fmt.Errorf("statement %s: a conditional Deny cannot be evaluated without a request", st.Sid)
			}
			return Access{Via: []string{"denied by " + st.Sid}}, nil
		case "Allow":
		default:
			return Access{}, fmt.Errorf("statement %s: effect %q", st.Sid, st.Effect)
		}
		direct := contains(st.Principals, "*") || contains(st.Principals, who.ARN)
		if !direct {
			// The root of the account: IAM policies decide.
			via, ok := iamAllows(who, action, keyARN)
			if !ok {
				continue
			}
			a.Via = append(a.Via, st.Sid+" (account root) + "+via)
		} else {
			a.Via = append(a.Via, st.Sid)
		}
		a.Allowed = true
		if len(st.Conditions) > 0 {
			a.Conditions = append(a.Conditions, st.Conditions)
		}
	}
	return a, nil
}

// namesPrincipal reports whether a statement's principals include who:
// anyone ("*"), who itself, or the root of who's account.
func namesPrincipal(principals []string, who, account string) bool {
	return contains(principals, "*") || contains(principals, who) || contains(principals, account)
}

// iamAllows reports whether who's identity policies allow action on key.
func iamAllows(who Identity, action, key string) (string, bool) {
	if len(who.Unknown) > 0 {
		return "policies not evaluated (" + strings.Join(who.Unknown, ", ") + ")", true
	}
	for _, st := range who.IAM {
		if st.Effect == "Allow" && matchesAny(st.Actions, action) && resourceMatches(st.Resources, key) {
			return "IAM " + st.Sid, true
		}
	}
	return "", false
}

// resourceMatches reports whether an identity statement's resources cover
// key, given as "<Key.Arn>": "*", the key itself, or an ARN pattern of keys.
func resourceMatches(resources []string, key string) bool {
	for _, r := range resources {
		if r == "*" || r == key || strings.HasSuffix(r, ":key/*") {
			return true
		}
	}
	return false
}

// matchesAny reports whether action is matched by one of patterns (IAM
// wildcards * and ?, case-insensitive as IAM compares actions).
func matchesAny(patterns []string, action string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(action)); ok {
			return true
		}
	}
	return false
}

func contains(list []string, v string) bool {
	for _, e := range list {
		if e == v {
			return true
		}
	}
	return false
}

// KeyUseActions are the KMS actions that use a key's material: reading or
// producing what it protects, or letting someone else do so (a grant).
var KeyUseActions = []string{
	"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyPair", "kms:GenerateDataKeyPairWithoutPlaintext",
	"kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:Sign", "kms:Verify",
	"kms:GenerateMac", "kms:VerifyMac", "kms:CreateGrant", "kms:DeriveSharedSecret",
}

// KeyAdminActions manage a key without using it; an administrator must keep
// PutKeyPolicy, or nobody could ever change the policy again.
var KeyAdminActions = []string{
	"kms:PutKeyPolicy", "kms:GetKeyPolicy", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
	"kms:DisableKey", "kms:EnableKey", "kms:EnableKeyRotation", "kms:TagResource", "kms:RevokeGrant", "kms:ListGrants",
}

// awsManagedPolicyKMS lists AWS managed policies the template attaches that
// grant no KMS action at all (their documents allow ECR, ECS, CloudWatch
// Logs, SSM and EC2 description calls); any other managed policy is not
// evaluated and counts as possibly granting anything.
var awsManagedPolicyKMS = map[string]bool{
	"service-role/AmazonECSTaskExecutionRolePolicy":     true,
	"service-role/AmazonEC2ContainerServiceforEC2Role":  true,
	"AmazonSSMManagedInstanceCore":                      true,
	"service-role/AmazonAPIGatewayPushToCloudWatchLogs": true,
}

// Identities returns every IAM role of the template as an Identity (its
// inline policies, the template's managed policies attached to it, and
// the AWS managed policies it names), in logical-id order.
func (t *Template) Identities(env Env) ([]Identity, error) {
	var ids []string
	for id, r := range t.Resources {
		if r.Type == "AWS::IAM::Role" {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	var out []Identity
	for _, id := range ids {
		r := t.Resources[id]
		if r.Condition != "" && !env.condition(r.Condition) {
			continue
		}
		who := Identity{Name: id, ARN: "<" + id + ".Arn>"}
		for _, p := range asList(resolveIf(r.Properties["Policies"], env)) {
			st, err := t.statements(id, p.(map[string]any)["PolicyDocument"], env)
			if err != nil {
				return nil, err
			}
			who.IAM = append(who.IAM, st...)
		}
		for pid, pol := range t.Resources {
			if pol.Type != "AWS::IAM::ManagedPolicy" {
				continue
			}
			for _, role := range asList(pol.Properties["Roles"]) {
				if t.Eval(role, env.Params) == "<"+id+">" {
					st, err := t.statements(pid, pol.Properties["PolicyDocument"], env)
					if err != nil {
						return nil, err
					}
					who.IAM = append(who.IAM, st...)
				}
			}
		}
		for _, arn := range asList(resolveIf(r.Properties["ManagedPolicyArns"], env)) {
			name := t.Eval(arn, env.Params)
			_, rest, _ := strings.Cut(name, ":policy/")
			if !awsManagedPolicyKMS[rest] {
				who.Unknown = append(who.Unknown, name)
			}
		}
		out = append(out, who)
	}
	return out, nil
}

// Request is the condition context of one request: condition key -> values
// (e.g. "kms:EncryptionContext:iccid" -> [the ICCID],
// "kms:EncryptionContextKeys" -> [purpose iccid]).
type Request map[string][]string

// ConditionsHold evaluates a statement's conditions against a request, for
// the operators the template's key policies use (case-sensitive string
// comparisons, set operators and Null); any other operator is refused.
func ConditionsHold(conds map[string]map[string][]string, req Request) (bool, error) {
	for op, keys := range conds {
		for key, want := range keys {
			got, present := req[key]
			var ok bool
			switch op {
			case "StringEquals":
				ok = present && len(got) == 1 && contains(want, got[0])
			case "ForAllValues:StringEquals":
				ok = true
				for _, g := range got {
					ok = ok && contains(want, g)
				}
			case "ForAnyValue:StringEquals":
				for _, g := range got {
					ok = ok || contains(want, g)
				}
			case "Null":
				if len(want) != 1 || (want[0] != "true" && want[0] != "false") {
					return false, fmt.Errorf("Null %s: want true or false, got %v", key, want)
				}
				ok = present == (want[0] == "false")
			default:
				return false, fmt.Errorf("condition operator %s is not evaluated here", op)
			}
			if !ok {
				return false, nil
			}
		}
	}
	return true, nil
}
