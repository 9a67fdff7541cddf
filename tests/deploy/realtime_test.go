package deploy

import (
	"fmt"
	"strconv"
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
// from the internet is a regional REST API routing POST /datastreamer,
// through a VPC link and an internal load balancer, to sim-poller's
// receiver port; nothing else is public.
func TestDataStreamerReceiverIsTheOnlyPublicEntry(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	for _, typ := range []string{"AWS::ApiGatewayV2::Api", "AWS::Lambda::Url", "AWS::CloudFront::Distribution"} {
		if ids := tpl.OfType(typ); len(ids) > 0 {
			t.Errorf("public entry %v (%s) besides the Data Streamer receiver", ids, typ)
		}
	}
	if apis := tpl.OfType("AWS::ApiGateway::RestApi"); len(apis) != 1 || apis[0] != "StreamApi" {
		t.Fatalf("REST APIs %v, want StreamApi only", apis)
	}
	api := tpl.Resources["StreamApi"].Properties
	if fmt.Sprint(api["EndpointConfiguration"]) != "map[Types:[REGIONAL]]" {
		t.Errorf("StreamApi endpoint %v, want REGIONAL (a web ACL of its own, no edge distribution)", api["EndpointConfiguration"])
	}
	for _, id := range tpl.OfType("AWS::ElasticLoadBalancingV2::LoadBalancer") {
		if p := tpl.Resources[id].Properties; p["Scheme"] != "internal" {
			t.Errorf("load balancer %s is %v: the only public entry is the REST API", id, p["Scheme"])
		}
	}
	methods := tpl.OfType("AWS::ApiGateway::Method")
	if len(methods) != 1 {
		t.Fatalf("methods %v: want only POST /datastreamer", methods)
	}
	m := tpl.Resources[methods[0]].Properties
	res := tpl.Resources[strings.Trim(tpl.Eval(m["ResourceId"], testParams), "<>")].Properties
	if m["HttpMethod"] != "POST" || res["PathPart"] != "datastreamer" || tpl.Eval(res["ParentId"], testParams) != "<StreamApi.RootResourceId>" {
		t.Errorf("route %v %v under %v: want POST /datastreamer", m["HttpMethod"], res["PathPart"], res["ParentId"])
	}
	in := m["Integration"].(map[string]any)
	spec := envSpecs(t)["sim-poller"]
	if in["Type"] != "HTTP_PROXY" || in["ConnectionType"] != "VPC_LINK" || tpl.Eval(in["ConnectionId"], testParams) != "<StreamVpcLink>" ||
		tpl.Eval(in["Uri"], testParams) != "http://<StreamLoadBalancer.DNSName>"+spec.Defaults["STREAM_PATH"] {
		t.Errorf("integration %v: want the receiver's path (%s) on the internal load balancer through the VPC link", in, spec.Defaults["STREAM_PATH"])
	}
	if targets := fmt.Sprint(tpl.Eval(asList(tpl.Resources["StreamVpcLink"].Properties["TargetArns"])[0], testParams)); targets != "<StreamLoadBalancer>" {
		t.Errorf("VPC link targets %s", targets)
	}

	// The port the load balancer sends to is the one the receiver listens on.
	task := tpl.Resources["SimPollerTask"].Properties["ContainerDefinitions"].([]any)[0].(map[string]any)
	var streamAddr string
	for _, e := range asList(task["Environment"]) {
		if m := e.(map[string]any); m["Name"] == "STREAM_ADDR" {
			streamAddr = tpl.Eval(m["Value"], testParams)
		}
	}
	tg := tpl.Resources["StreamTargetGroup"].Properties
	lb := asList(tpl.Resources["SimPollerService"].Properties["LoadBalancers"])
	if len(lb) != 1 || ":"+fmt.Sprint(tg["Port"]) != streamAddr || ":"+fmt.Sprint(lb[0].(map[string]any)["ContainerPort"]) != streamAddr ||
		tpl.Eval(lb[0].(map[string]any)["TargetGroupArn"], testParams) != "<StreamTargetGroup>" || tg["TargetType"] != "ip" {
		t.Errorf("target group port %v, service registers %v; the receiver listens on %q", tg["Port"], lb, streamAddr)
	}
	ingress := tpl.Resources["StreamLinkToReceiver"].Properties
	if tpl.Eval(ingress["SourceSecurityGroupId"], testParams) != "<StreamLinkSecurityGroup.GroupId>" || ":"+fmt.Sprint(ingress["FromPort"]) != streamAddr {
		t.Errorf("receiver ingress %v: want the load balancer's group on the receiver's port only", ingress)
	}
	nlb := tpl.Resources["StreamLoadBalancer"].Properties
	if fmt.Sprint(tpl.Eval(asList(nlb["SecurityGroups"])[0], testParams)) != "<StreamLinkSecurityGroup>" ||
		tpl.Resources["StreamLinkSecurityGroup"].Properties["SecurityGroupIngress"] != nil {
		t.Errorf("the load balancer's group takes inbound rules: only API Gateway's PrivateLink traffic may reach it")
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

// webACLRules are the web ACL's rules by name, in an environment.
func webACLRules(t *testing.T, tpl *Template, env Env) map[string]map[string]any {
	t.Helper()
	acl := resolveIf(tpl.Resources["StreamWebAcl"].Properties, env).(map[string]any)
	if acl["Scope"] != "REGIONAL" || fmt.Sprint(acl["DefaultAction"]) != "map[Allow:map[]]" {
		t.Fatalf("web ACL %v / %v", acl["Scope"], acl["DefaultAction"])
	}
	out := map[string]map[string]any{}
	for _, r := range asList(acl["Rules"]) {
		m := r.(map[string]any)
		out[fmt.Sprint(m["Name"])] = m
	}
	return out
}

// TestDataStreamerEdgeRefusesFloods: a web ACL guards the API's stage: it
// refuses a source sending more than StreamRateLimit requests in 5 minutes
// (so a flood is refused before it uses up the throttle 1NCE's deliveries
// share), requests with a query string or oversized credentials, requests
// without Basic credentials (401, sim-poller never sees them), and, when
// StreamAllowedCidrs names 1NCE's addresses, every other source.
func TestDataStreamerEdgeRefusesFloods(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	assoc := tpl.Resources["StreamWebAclAssociation"].Properties
	if tpl.Eval(assoc["WebACLArn"], testParams) != "<StreamWebAcl.Arn>" ||
		tpl.Eval(assoc["ResourceArn"], testParams) != "arn:aws:apigateway:eu-central-1::/restapis/<StreamApi>/stages/<StreamStage>" {
		t.Fatalf("web ACL association %v: want the stack's web ACL on the API's stage", assoc)
	}
	for _, c := range []struct {
		name     string
		cidrs    string
		wantList bool
	}{{"any source", "", false}, {"1NCE's addresses only", "203.0.113.10/32,203.0.113.11/32", true}} {
		t.Run(c.name, func(t *testing.T) {
			env := keyEnv(t, tpl, map[string]string{"StreamAllowedCidrs": c.cidrs})
			rules := webACLRules(t, tpl, env)
			priority := map[string]string{}
			for name, r := range rules {
				priority[name] = fmt.Sprint(r["Priority"])
				if _, block := r["Action"].(map[string]any)["Block"]; !block {
					t.Errorf("rule %s does not block", name)
				}
			}
			rate := fmt.Sprint(rules["RatePerSource"]["Statement"])
			if !strings.Contains(rate, "AggregateKeyType:IP") || !strings.Contains(rate, "Limit:map[Ref:StreamRateLimit]") ||
				!strings.Contains(fmt.Sprint(rules["RatePerSource"]["Action"]), "ResponseCode:429") {
				t.Errorf("rate rule %v: want per-address, StreamRateLimit, 429", rate)
			}
			size := fmt.Sprint(rules["SizeLimits"]["Statement"])
			for _, w := range []string{"QueryString", "Name:authorization", "UriPath"} {
				if !strings.Contains(size, w) {
					t.Errorf("size limits %s lack %s", size, w)
				}
			}
			auth := fmt.Sprint(rules["BasicCredentialsPresented"])
			if !strings.Contains(auth, "NotStatement") || !strings.Contains(auth, "SearchString:Basic ") || !strings.Contains(auth, "ResponseCode:401") {
				t.Errorf("credentials rule %s: want 401 for requests without Basic credentials", auth)
			}
			_, listed := rules["OnlyTheDataStreamer"]
			ipset := tpl.Resources["StreamAllowList"]
			if listed != c.wantList || (c.wantList && (priority["OnlyTheDataStreamer"] != "0" ||
				!strings.Contains(fmt.Sprint(rules["OnlyTheDataStreamer"]["Statement"]), "NotStatement") ||
				!strings.Contains(fmt.Sprint(rules["OnlyTheDataStreamer"]["Statement"]), "StreamAllowList Arn"))) {
				t.Errorf("allow-list rule present=%v (%v), want %v, first, refusing sources not in StreamAllowList", listed, rules["OnlyTheDataStreamer"], c.wantList)
			}
			if env.condition(ipset.Condition) != c.wantList || tpl.Eval(ipset.Properties["Addresses"], testParams) != "<StreamAllowedCidrs>" {
				t.Errorf("allow list %v (condition %s)", ipset.Properties["Addresses"], ipset.Condition)
			}
		})
	}
	if d := templateParams(tpl, nil)["StreamRateLimit"]; d == "" || d == "0" {
		t.Errorf("StreamRateLimit default %q", d)
	}
}

// TestDataStreamerEdgeHasATrustedCertificate: 1NCE requires HTTPS with a
// publicly trusted certificate: the execute-api host has Amazon's; a
// custom domain takes an ACM certificate (TLS 1.2), and then the
// execute-api host is switched off so the web ACL cannot be bypassed.
func TestDataStreamerEdgeHasATrustedCertificate(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	for _, c := range []struct {
		name, domain, want string
	}{
		{"execute-api host", "", "https://<StreamApi>.execute-api.eu-central-1.<AWS::URLSuffix>/<StreamStage>/datastreamer"},
		{"custom domain", "datastreamer.example.com", "https://datastreamer.example.com/datastreamer"},
	} {
		cert := ""
		if c.domain != "" {
			cert = "arn:aws:acm:eu-central-1:123456789012:certificate/x"
		}
		env := keyEnv(t, tpl, map[string]string{"StreamDomainName": c.domain, "StreamCertificateArn": cert})
		if got := tpl.Eval(resolveIf(tpl.Outputs["DataStreamerUrl"], env), env.Params); got != c.want {
			t.Errorf("%s: DataStreamerUrl %s, want %s", c.name, got, c.want)
		}
		if got := fmt.Sprint(resolveIf(tpl.Resources["StreamApi"].Properties["DisableExecuteApiEndpoint"], env)); got != fmt.Sprint(c.domain != "") {
			t.Errorf("%s: execute-api host disabled = %s", c.name, got)
		}
	}
	d := tpl.Resources["StreamDomain"]
	if d.Condition != "HasStreamDomain" || tpl.Eval(d.Properties["RegionalCertificateArn"], testParams) != "<StreamCertificateArn>" ||
		d.Properties["SecurityPolicy"] != "TLS_1_2" {
		t.Errorf("custom domain %v", d.Properties)
	}
}

// TestReceiverBodyLimitFitsTheEdge: the receiver never promises to take a
// body API Gateway refuses (its payload quota: 10 MB): the limit the stack
// sets and the code's default both stay within it.
func TestReceiverBodyLimitFitsTheEdge(t *testing.T) {
	t.Parallel()
	const apiGatewayPayloadQuota = 10_000_000
	tpl := loadTemplate(t)
	limits := map[string]string{"code default": envSpecs(t)["sim-poller"].Defaults["STREAM_MAX_BYTES"], "stack": taskEnv(t, tpl, "SimPollerTask")["STREAM_MAX_BYTES"]}
	for where, v := range limits {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n > apiGatewayPayloadQuota || n < 1<<20 {
			t.Errorf("STREAM_MAX_BYTES (%s) = %q: want at most API Gateway's %d bytes (and room for a batch of 3,000 records)", where, v, apiGatewayPayloadQuota)
		}
	}
}
