package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/tools/devstack"
	"github.com/simbridge/simbridge/tools/vpnlab"
)

// TestDeviceOnboardsThroughTheOpenVPNTunnel runs vpn-gateway in tunnel mode
// against a real OpenVPN server in a network namespace: the gateway's
// supervisor brings up the client, a device inside the namespace gets its own
// credentials through the tunnel, and killing openvpn makes the gateway
// not-ready until it has restarted it.
func TestDeviceOnboardsThroughTheOpenVPNTunnel(t *testing.T) {
	if err := vpnlab.Check(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	lab, err := vpnlab.Start(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lab.Stop)
	conf := filepath.Join(dir, "client.conf")
	if err := os.WriteFile(conf, []byte(lab.ClientConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	port, _ := testkit.FreePort()
	s := startStack(t, devstack.Options{
		SIMs: 3, IPPattern: strings.TrimSuffix(lab.DeviceIP, "1") + "x", IPStart: 1, SyncInterval: time.Hour,
		ShutdownTimeout: 5 * time.Second,
		Env: map[string][]string{"vpn-gateway": {"TUNNEL_MODE=openvpn", "OPENVPN_CONFIG_FILE=" + conf,
			"TUNNEL_DEVICE=sbe" + lab.Namespace[len(lab.Namespace)-6:], "LISTEN_ADDR=:" + strconv.Itoa(port), "TUNNEL_MAX_BACKOFF=30s"}},
	})
	cfg := testkit.AWSConfigFor(t, s.AWSEndpoint())
	sync(t, s)

	t.Log("the gateway published its tunnel endpoint to SSM")
	endpoint := fmt.Sprintf("%s:%d/device-api/onboarding", lab.GatewayIP, port)
	param, err := ssm.NewFromConfig(cfg).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(s.Resources.EndpointParameter())})
	if err != nil || aws.ToString(param.Parameter.Value) != endpoint {
		t.Fatalf("SSM parameter %s: %v (%v), want %s", s.Resources.EndpointParameter(), param, err, endpoint)
	}

	t.Log("the device in the server's namespace gets its own credentials through the tunnel")
	own := iccidOf(t, s, lab.DeviceIP)
	if got := tunnelDevice(t, lab, endpoint); got != own {
		t.Fatalf("device %s got ICCID %s, want its own %s", lab.DeviceIP, got, own)
	}

	t.Log("killing openvpn makes the gateway not ready, then it restarts openvpn and recovers")
	notes := subscribe(t, cfg, s.Resources.SuccessTopicARN, s.Resources.FailureTopicARN)
	ops := "http://" + s.Procs["vpn-gateway"].OpsAddr
	killOpenVPN(t, s.Procs["vpn-gateway"].Pid())
	eventuallyFast(t, 20*time.Second, "gateway not ready", func() bool { code, _ := get(t, ops+"/readyz", nil); return code == 503 })
	eventuallyFast(t, 60*time.Second, "gateway ready again", func() bool { code, _ := get(t, ops+"/readyz", nil); return code == 200 })
	if got := tunnelDevice(t, lab, endpoint); got != own {
		t.Fatalf("after the restart the device got %s, want %s", got, own)
	}
	if _, body := get(t, ops+"/metrics", nil); !strings.Contains(body, "simbridge_vpn_gateway_tunnel_restarts_total 1") {
		t.Errorf("restart not counted")
	}

	t.Log("operators were told: one failure, then success, in the reference's JSON shape")
	want := map[string]string{"tunnel down": "", "up at " + endpoint: ""}
	eventually(t, 20*time.Second, "notifications", func() error {
		for _, n := range notes() {
			for w := range want {
				if strings.Contains(n.Message, w) && n.Timestamp > 0 {
					want[w] = n.Message
				}
			}
		}
		for w, got := range want {
			if got == "" {
				return fmt.Errorf("no notification saying %q", w)
			}
		}
		return nil
	})
}

// tunnelDevice runs the device client inside the lab's namespace and returns
// the ICCID it was given.
func tunnelDevice(t *testing.T, lab *vpnlab.Lab, endpoint string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := lab.Command(ctx, deviceBinary(t), "-url", "http://"+endpoint, "-wait", "60s", "-timeout", "5s").CombinedOutput()
	if err != nil {
		t.Fatalf("device in the namespace: %v: %s", err, out)
	}
	for _, f := range strings.Fields(string(out)) {
		if v, ok := strings.CutPrefix(f, "iccid="); ok {
			return v
		}
	}
	t.Fatalf("device printed %q", out)
	return ""
}

// deviceBinary is the device client from $BIN_DIR or a fresh build.
func deviceBinary(t *testing.T) string {
	t.Helper()
	return testkit.Binary(t, "tools/cmd/device")
}

func iccidOf(t *testing.T, s *devstack.Stack, ip string) string {
	t.Helper()
	sims, err := admin(s).ListSIMs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, sim := range sims {
		if sim.IPAddress == ip {
			return sim.ICCID
		}
	}
	t.Fatalf("no SIM has %s", ip)
	return ""
}

// killOpenVPN kills the openvpn child of the gateway process, found by its
// parent pid (only the process this test's stack started).
func killOpenVPN(t *testing.T, gateway int) {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		rest := string(stat[strings.LastIndexByte(string(stat), ')')+2:])
		fields := strings.Fields(rest)
		if strings.Contains(string(stat), "(openvpn)") && len(fields) > 1 && fields[1] == strconv.Itoa(gateway) {
			p, _ := os.FindProcess(pid)
			if err := p.Kill(); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no openvpn child of the gateway (pid %d)", gateway)
}

// subscribe routes both topics to a fresh queue and returns a function that
// reads the notifications received so far.
func subscribe(t *testing.T, cfg aws.Config, topics ...string) func() []events.Notification {
	t.Helper()
	ctx := context.Background()
	q := sqs.NewFromConfig(cfg)
	created, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(testkit.Name(t))})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: created.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range topics {
		if _, err := sns.NewFromConfig(cfg).Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("sqs"),
			Endpoint: aws.String(attrs.Attributes["QueueArn"]), Attributes: map[string]string{"RawMessageDelivery": "true"}}); err != nil {
			t.Fatal(err)
		}
	}
	var seen []events.Notification
	return func() []events.Notification {
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: created.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			var n events.Notification
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &n); err != nil {
				t.Errorf("notification is not the reference JSON: %s", aws.ToString(m.Body))
			}
			seen = append(seen, n)
		}
		return seen
	}
}

func eventuallyFast(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
