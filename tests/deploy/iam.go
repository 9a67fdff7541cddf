package deploy

import (
	"fmt"
	"sort"
)

// Action is an IAM action, "service:Operation".
type Action string

// iamServicePrefix maps SDK service packages to IAM service prefixes where
// they differ: IoT Data Plane's Publish is authorised as iot:Publish.
var iamServicePrefix = map[string]string{"iotdataplane": "iot"}

// batchActions maps batch operations to the action IAM checks for them.
var batchActions = map[string]string{
	"sqs:SendMessageBatch":             "sqs:SendMessage",
	"sqs:DeleteMessageBatch":           "sqs:DeleteMessage",
	"sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
	"sns:PublishBatch":                 "sns:Publish",
}

// NeverCalled are operations the call graph reaches but that the
// configuration keeps from ever running; each says why. The test fails when
// one of them is no longer reachable, so the list cannot go stale.
var NeverCalled = map[Operation]string{
	{Service: "sqs", Name: "CreateQueue"}: "watermill-aws's subscriber creates a missing queue only without DoNotCreateQueueIfNotExists, " +
		"which libs/messaging always sets (queues come from the infrastructure, with their DLQs)",
	{Service: "dynamodb", Name: "DescribeEndpoints"}: "endpoint discovery of the DynamoDB client; off unless " +
		"AWS_ENABLE_ENDPOINT_DISCOVERY is set, which no deployment does",
}

// SidecarPolicies are the standalone policies the template attaches to task
// roles for a container that is not the service's code, so the service's
// call graph cannot justify them; each says why and is checked by its own
// test instead.
var SidecarPolicies = map[string]string{
	"CollectorPolicy": "the metrics collector sidecar remote-writes to the stack's Prometheus workspace " +
		"(aps:RemoteWrite on that workspace only; TestMetricsCollectorSidecars)",
	"ExecCommandPolicy": "ECS Exec's SSM agent, which ECS injects into the Fargate tasks, opens its channels " +
		"(the four ssmmessages actions, which IAM cannot scope; TestECSExec)",
}

// OperatorPolicies are the standalone policies for people, attached to no
// task role; each is checked against the call graph of its command line
// (TestOperatorPolicyGrantsExactlyWhatSimbridgeCalls).
var OperatorPolicies = map[string]string{
	"OperatorPolicy": "./tools/cmd/simbridge",
}

// NoPermissionNeeded are operations any IAM identity may call.
var NoPermissionNeeded = map[Action]bool{"sts:GetCallerIdentity": true}

// NeedsWildcardResource are actions IAM cannot scope to a resource.
var NeedsWildcardResource = map[Action]bool{
	"iot:CreateKeysAndCertificate": true,
	// A certificate's ARN exists only once it is registered.
	"iot:RegisterCertificate":  true,
	"iot:DescribeEndpoint":     true,
	"iot:ListCertificates":     true,
	"iot:ListCertificatesByCA": true,
	"iot:ListPrincipalThings":  true,
	"iot:ListThings":           true,
	// Lists an account's queues (by name prefix); no resource to scope to.
	"sqs:ListQueues": true,
	// The CA setup finds and registers a CA whose id exists only then.
	"iot:ListCACertificates":    true,
	"iot:GetRegistrationCode":   true,
	"iot:RegisterCACertificate": true,
	// The rotation function draws random values.
	"secretsmanager:GetRandomPassword": true,
}

// ActionsFor turns reachable operations into the IAM actions they need,
// leaving out NeverCalled ones; it also returns which NeverCalled entries
// were seen.
func ActionsFor(ops []Operation) (actions []Action, excused map[Operation]bool) {
	set := map[Action]bool{}
	excused = map[Operation]bool{}
	for _, op := range ops {
		if _, ok := NeverCalled[op]; ok {
			excused[op] = true
			continue
		}
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
	for a := range set {
		actions = append(actions, a)
	}
	sort.Slice(actions, func(i, j int) bool { return actions[i] < actions[j] })
	return actions, excused
}

// Grant is one allowed action on one resource expression.
type Grant struct {
	Action   Action
	Resource string
}

// RoleGrants collects the Allow statements of an IAM role resource's inline
// policies, with resources evaluated by t.Eval. It refuses constructs the
// check cannot see through (managed policies, NotAction, Deny-less wildcards).
func (t *Template) RoleGrants(roleID string, params map[string]string) ([]Grant, error) {
	r, ok := t.Resources[roleID]
	if !ok || r.Type != "AWS::IAM::Role" {
		return nil, fmt.Errorf("%s is not an IAM role of the template", roleID)
	}
	if _, ok := r.Properties["ManagedPolicyArns"]; ok {
		return nil, fmt.Errorf("%s: managed policies cannot be checked for least privilege", roleID)
	}
	for id, other := range t.Resources {
		_, sidecar := SidecarPolicies[id]
		_, operator := OperatorPolicies[id]
		if sidecar || operator {
			continue
		}
		if other.Type == "AWS::IAM::Policy" || other.Type == "AWS::IAM::ManagedPolicy" {
			return nil, fmt.Errorf("%s: standalone policy %s; keep task permissions inline in the role", roleID, id)
		}
	}
	var grants []Grant
	policies, _ := r.Properties["Policies"].([]any)
	for _, p := range policies {
		doc, _ := p.(map[string]any)["PolicyDocument"].(map[string]any)
		g, err := t.documentGrants(roleID, doc, params)
		if err != nil {
			return nil, err
		}
		grants = append(grants, g...)
	}
	return grants, nil
}

// PolicyGrants collects the Allow statements of a standalone managed
// policy (AWS::IAM::ManagedPolicy), as RoleGrants does for a role.
func (t *Template) PolicyGrants(policyID string, params map[string]string) ([]Grant, error) {
	r, ok := t.Resources[policyID]
	if !ok || r.Type != "AWS::IAM::ManagedPolicy" {
		return nil, fmt.Errorf("%s is not a managed policy of the template", policyID)
	}
	doc, _ := r.Properties["PolicyDocument"].(map[string]any)
	return t.documentGrants(policyID, doc, params)
}

func (t *Template) documentGrants(id string, doc map[string]any, params map[string]string) ([]Grant, error) {
	var grants []Grant
	stmts, _ := doc["Statement"].([]any)
	for _, s := range stmts {
		stmt, _ := s.(map[string]any)
		if stmt["Effect"] != "Allow" {
			continue
		}
		if _, bad := stmt["NotAction"]; bad {
			return nil, fmt.Errorf("%s: NotAction grants more than it names", id)
		}
		for _, a := range asList(stmt["Action"]) {
			for _, res := range asList(stmt["Resource"]) {
				grants = append(grants, Grant{Action: Action(fmt.Sprint(a)), Resource: t.Eval(res, params)})
			}
		}
	}
	return grants, nil
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

// PeopleRoles are the roles people (or make deploy) assume, each with the
// program whose calls it grants; checks meant for task roles leave them
// out, and each is checked against its own program's call graph.
var PeopleRoles = map[string]string{
	"AdopterRole": "simbridge adopt (tools/opscli newAdoptCommand): seals the reference fleet's keys with the device-key key",
	"CASetupRole": "the one-time CA setup (simbridge ca init; deploy.sh runs the same bootstrap.EnsureCA) (TestCASetupRoleGrantsExactlyWhatTheSetupCalls)",
}

// ServiceRoles are the roles AWS services assume for the stack, each with
// what it is for; they run no code of ours, so no call graph applies.
var ServiceRoles = map[string]string{
	"ExecutionRole":       "ECS pulls the images, writes the containers' logs and hands the collector its configuration",
	"GatewayInstanceRole": "the gateway's EC2 container instances (ECS agent, SSM Session Manager)",
	"FlowLogRole":         "VPC flow logs delivery to their log group",
	"ApiGatewayLogsRole":  "API Gateway writes the Data Streamer edge's access logs (the region's account setting)",
	"BackupRole":          "AWS Backup backs the SIM table up",
	"SecretRotationRole":  "the rotation function of the generated secrets (TestSecretRotation runs its code)",
}

// KeyPolicyGrants are the KMS actions the template's key policies grant a
// role by naming it (resource "<Key.Arn>"): the key's policy, not the
// role, says who may use a key, so a least-privilege check of the role
// counts them with its own.
func (t *Template) KeyPolicyGrants(roleID string, env Env) ([]Grant, error) {
	var grants []Grant
	for id, r := range t.Resources {
		if r.Type != "AWS::KMS::Key" {
			continue
		}
		policy, err := t.KeyPolicy(id, env)
		if err != nil {
			return nil, err
		}
		for _, st := range policy {
			if st.Effect != "Allow" || !contains(st.Principals, "<"+roleID+".Arn>") {
				continue
			}
			for _, a := range st.Actions {
				grants = append(grants, Grant{Action: Action(a), Resource: "<" + id + ".Arn>"})
			}
		}
	}
	return grants, nil
}
