package deploy

import (
	"fmt"
	"strings"
	"testing"
)

// TestNotificationEmailGetsFailuresAndSummariesOnly: operators' e-mail
// subscribes to failures and to one summary per sync run, never to the
// per-SIM success topic (15,000 messages on a first sync).
func TestNotificationEmailGetsFailuresAndSummariesOnly(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	for id, wantEmail := range map[string]bool{"SuccessTopic": false, "FailureTopic": true, "SummaryTopic": true} {
		sub := fmt.Sprint(tpl.Resources[id].Properties["Subscription"])
		if got := strings.Contains(sub, "email") && strings.Contains(sub, "NotificationEmail"); got != wantEmail {
			t.Errorf("%s: e-mail subscription %v, want %v (%s)", id, got, wantEmail, sub)
		}
	}
	task := tpl.Resources["SimPollerTask"].Properties["ContainerDefinitions"].([]any)[0].(map[string]any)
	if env := fmt.Sprint(task["Environment"]); !strings.Contains(env, "SUMMARY_TOPIC_ARN") || !strings.Contains(env, "SummaryTopic") {
		t.Errorf("sim-poller is not told the summary topic: %s", env)
	}
}

// TestDataStreamerReceiverIsTheOnlyPublicEntry: the stack's only way in
// from the internet is the HTTP API routing POST /datastreamer, through a
// VPC link, to sim-poller's receiver port; nothing else is public.
func TestDataStreamerReceiverIsTheOnlyPublicEntry(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	for _, typ := range []string{"AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::ApiGateway::RestApi", "AWS::Lambda::Url"} {
		if ids := tpl.OfType(typ); len(ids) > 0 {
			t.Errorf("public entry %v (%s) besides the Data Streamer receiver", ids, typ)
		}
	}
	if apis := tpl.OfType("AWS::ApiGatewayV2::Api"); len(apis) != 1 || apis[0] != "StreamApi" {
		t.Fatalf("HTTP APIs %v, want StreamApi only", apis)
	}
	routes := tpl.OfType("AWS::ApiGatewayV2::Route")
	if len(routes) != 1 || tpl.Resources[routes[0]].Properties["RouteKey"] != "POST /datastreamer" {
		t.Fatalf("routes %v: want only POST /datastreamer", routes)
	}
	in := tpl.Resources["StreamIntegration"].Properties
	if in["ConnectionType"] != "VPC_LINK" || tpl.Eval(in["ConnectionId"], testParams) != "<StreamVpcLink>" ||
		tpl.Eval(in["IntegrationUri"], testParams) != "<SimPollerDiscovery.Arn>" {
		t.Errorf("integration %v: want sim-poller's Cloud Map service through the VPC link", in)
	}
	if recs := fmt.Sprint(tpl.Resources["SimPollerDiscovery"].Properties["DnsConfig"]); !strings.Contains(recs, "SRV") {
		t.Errorf("sim-poller's Cloud Map service has no SRV record (API Gateway needs the port): %s", recs)
	}

	// The port API Gateway is sent to is the one the receiver listens on.
	task := tpl.Resources["SimPollerTask"].Properties["ContainerDefinitions"].([]any)[0].(map[string]any)
	var streamAddr string
	for _, e := range asList(task["Environment"]) {
		if m := e.(map[string]any); m["Name"] == "STREAM_ADDR" {
			streamAddr = tpl.Eval(m["Value"], testParams)
		}
	}
	reg := asList(tpl.Resources["SimPollerService"].Properties["ServiceRegistries"])[0].(map[string]any)
	if port := fmt.Sprint(reg["ContainerPort"]); streamAddr != ":"+port {
		t.Errorf("Cloud Map registers port %s, the receiver listens on %q", port, streamAddr)
	}
	ingress := tpl.Resources["StreamLinkToReceiver"].Properties
	if tpl.Eval(ingress["SourceSecurityGroupId"], testParams) != "<StreamLinkSecurityGroup.GroupId>" || ":"+fmt.Sprint(ingress["FromPort"]) != streamAddr {
		t.Errorf("receiver ingress %v: want the VPC link's group on the receiver's port only", ingress)
	}

	// No security group takes traffic from the internet.
	for _, id := range tpl.OfType("AWS::EC2::SecurityGroup") {
		for _, rule := range asList(tpl.Resources[id].Properties["SecurityGroupIngress"]) {
			if cidr := fmt.Sprint(rule.(map[string]any)["CidrIp"]); cidr == "0.0.0.0/0" {
				t.Errorf("%s accepts %v from anywhere", id, rule)
			}
		}
	}
	for _, id := range tpl.OfType("AWS::EC2::SecurityGroupIngress") {
		if cidr := fmt.Sprint(tpl.Resources[id].Properties["CidrIp"]); cidr == "0.0.0.0/0" {
			t.Errorf("%s accepts traffic from anywhere", id)
		}
	}
}
