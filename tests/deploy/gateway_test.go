package deploy

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

// TestGatewayHost: the EC2 capacity of vpn-gateway is maintainable and
// keeps tasks to their own role: tasks cannot reach the instance metadata,
// operators get in through SSM Session Manager (no SSH, no inbound rule),
// IMDSv2 only, and a new AMI (resolved again at every deploy) replaces the
// instance with a rolling update that starts the new instance first and
// lets ECS drain the old one.
func TestGatewayHost(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	lt := tpl.Resources["GatewayLaunchTemplate"].Properties["LaunchTemplateData"].(map[string]any)
	userData := fmt.Sprint(lt["UserData"])
	for _, w := range []string{"ECS_CLUSTER=${Cluster}", "ECS_AWSVPC_BLOCK_IMDS=true"} {
		if !strings.Contains(userData, w) {
			t.Errorf("user data lacks %s", w)
		}
	}
	if md := fmt.Sprint(lt["MetadataOptions"]); !strings.Contains(md, "HttpTokens:required") {
		t.Errorf("IMDSv2 not enforced: %s", md)
	}
	if img := tpl.Eval(lt["ImageId"], testParams); img != "<EcsAmiId>" ||
		!strings.HasPrefix(fmt.Sprint(tpl.Parameters["EcsAmiId"].(map[string]any)["Type"]), "AWS::SSM::Parameter::Value") {
		t.Errorf("image %s: want the recommended ECS AMI from its public SSM parameter, resolved at each deploy", img)
	}
	if !strings.Contains(fmt.Sprint(tpl.Resources["GatewayInstanceRole"].Properties["ManagedPolicyArns"]), "policy/AmazonSSMManagedInstanceCore") {
		t.Error("the instance role does not allow SSM Session Manager")
	}
	if ingress := tpl.Resources["GatewayHostSecurityGroup"].Properties["SecurityGroupIngress"]; ingress != nil {
		t.Errorf("the gateway host accepts inbound traffic: %v", ingress)
	}

	asg := tpl.Resources["GatewayAutoScalingGroup"]
	roll, _ := asg.UpdatePolicy["AutoScalingRollingUpdate"].(map[string]any)
	minIn, maxSize := fmt.Sprint(roll["MinInstancesInService"]), fmt.Sprint(asg.Properties["MaxSize"])
	if roll == nil || minIn != "1" || maxSize != "2" || fmt.Sprint(roll["MaxBatchSize"]) != "1" {
		t.Errorf("rolling update %v with MaxSize %s: want the new instance up (MinInstancesInService 1, MaxSize 2) before the old one goes", roll, maxSize)
	}
	ltRef := asg.Properties["LaunchTemplate"].(map[string]any)
	if v := tpl.Eval(ltRef["Version"], testParams); v != "<GatewayLaunchTemplate.LatestVersionNumber>" {
		t.Errorf("launch template version %s: a new AMI would not reach the group", v)
	}
	cp := fmt.Sprint(tpl.Resources["GatewayCapacityProvider"].Properties["AutoScalingGroupProvider"])
	if !strings.Contains(cp, "ManagedDraining:ENABLED") {
		t.Errorf("capacity provider does not drain terminating instances: %s", cp)
	}

	// One tunnel per OpenVPN credential (README): a new gateway starts only
	// once the old one stopped, never two at a time.
	// During a migration (MigrationPhase=adopting) the reference's box holds
	// it, and the gateway runs none.
	dc := tpl.Resources["VpnGatewayService"].Properties["DeploymentConfiguration"].(map[string]any)
	desired := fmt.Sprint(tpl.Resources["VpnGatewayService"].Properties["DesiredCount"])
	if fmt.Sprint(dc["MaximumPercent"], dc["MinimumHealthyPercent"]) != "100 0" || desired != "map[Fn::If:[IsAdopting 0 1]]" {
		t.Errorf("gateway deployment %v: want one task, replaced stop-then-start", dc)
	}
}

// TestGatewayEgress: the gateway task reaches 1NCE's OpenVPN server,
// HTTPS (AWS APIs) and onboarding-api, nothing else.
func TestGatewayEgress(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	var rules []string
	rule := func(m map[string]any, dest string) string {
		return fmt.Sprintf("%s/%s-%s to %s", tpl.Eval(m["IpProtocol"], testParams), tpl.Eval(m["FromPort"], testParams),
			tpl.Eval(m["ToPort"], testParams), dest)
	}
	for _, e := range asList(tpl.Resources["GatewaySecurityGroup"].Properties["SecurityGroupEgress"]) {
		m := e.(map[string]any)
		rules = append(rules, rule(m, tpl.Eval(m["CidrIp"], testParams)))
	}
	for _, id := range tpl.OfType("AWS::EC2::SecurityGroupEgress") {
		m := tpl.Resources[id].Properties
		if tpl.Eval(m["GroupId"], testParams) == "<GatewaySecurityGroup.GroupId>" {
			rules = append(rules, rule(m, tpl.Eval(m["DestinationSecurityGroupId"], testParams)))
		}
	}
	sort.Strings(rules)
	want := []string{
		"<OpenVpnProtocol>/<OpenVpnPort>-<OpenVpnPort> to <OpenVpnServerCidr>",
		"tcp/443-443 to 0.0.0.0/0",
		"tcp/8080-8080 to <OnboardingSecurityGroup.GroupId>",
	}
	if fmt.Sprint(rules) != fmt.Sprint(want) {
		t.Errorf("gateway egress:\n%s\nwant:\n%s", strings.Join(rules, "\n"), strings.Join(want, "\n"))
	}
	p := templateParams(tpl, nil)
	if p["OpenVpnPort"] != "1194" || p["OpenVpnProtocol"] != "udp" {
		t.Errorf("OpenVPN defaults %s/%s: 1NCE's client configuration says udp 1194", p["OpenVpnProtocol"], p["OpenVpnPort"])
	}
}

// TestFlowLogsInProduction: production records the VPC's traffic, kept as
// long as its other logs.
func TestFlowLogsInProduction(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	fl := tpl.Resources["VpcFlowLog"]
	lg := tpl.Resources["FlowLogGroup"]
	if fl.Condition != "IsProduction" || lg.Condition != "IsProduction" {
		t.Errorf("flow logs conditions %q/%q, want IsProduction", fl.Condition, lg.Condition)
	}
	got := strings.Join([]string{tpl.Eval(fl.Properties["ResourceId"], testParams), fmt.Sprint(fl.Properties["TrafficType"]),
		tpl.Eval(fl.Properties["LogGroupName"], testParams)}, " ")
	if got != "<Vpc> ALL <FlowLogGroup>" || lg.Properties["RetentionInDays"] == nil {
		t.Errorf("flow log %s, retention %v", got, lg.Properties["RetentionInDays"])
	}
}
