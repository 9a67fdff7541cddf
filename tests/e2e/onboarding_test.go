// Package e2e_test runs the whole system against the AWS emulator: moto,
// the 1NCE simulator and the five services as separate processes built from
// this repository, with devices on distinct loopback addresses.
package e2e_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/tools/devstack"
)

var ips = []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}

func TestSIMBecomesDeviceWithWorkingCredentials(t *testing.T) {
	s := startStack(t, devstack.Options{SIMs: 3, SyncInterval: time.Hour, ShutdownTimeout: 10 * time.Second})
	cfg := testkit.AWSConfigFor(t, s.AWSEndpoint())
	iotAPI := iot.NewFromConfig(cfg)
	sync(t, s)

	t.Log("every device gets a matching certificate and key, ACTIVE and attached to its Thing")
	iccids := map[string]string{}
	certs := map[string]string{}
	for _, ip := range ips {
		creds, id := onboarded(t, s, ip)
		iccids[ip], certs[ip] = creds.ICCID, id
		if got := certStatus(t, iotAPI, id); got != iottypes.CertificateStatusActive {
			t.Errorf("%s: certificate %s is %s", ip, id, got)
		}
		principals, err := iotAPI.ListThingPrincipals(context.Background(), &iot.ListThingPrincipalsInput{ThingName: aws.String(creds.ICCID)})
		if err != nil || len(principals.Principals) != 1 || !strings.HasSuffix(principals.Principals[0], "/"+id) {
			t.Errorf("%s: thing %s principals %v (%v), want only certificate %s", ip, creds.ICCID, principals, err, id)
		}
		if creds.IoTCoreEndpointURL != devstack.IoTEndpoint || !strings.Contains(creds.AmazonRootCaURL, "AmazonRootCA1") {
			t.Errorf("%s: endpoint %q root CA URL %q", ip, creds.IoTCoreEndpointURL, creds.AmazonRootCaURL)
		}
	}
	if len(map[string]bool{iccids[ips[0]]: true, iccids[ips[1]]: true, iccids[ips[2]]: true}) != 3 {
		t.Fatalf("devices share an ICCID: %v", iccids)
	}

	t.Log("the table holds no plaintext private key")
	assertNoPlaintextKeys(t, dynamodb.NewFromConfig(cfg), s.Resources.Table())

	t.Log("spoofed identity headers do not change who the device is")
	spoof := http.Header{
		"X-Forwarded-For": {ips[1]}, "X-Real-Ip": {ips[1]}, "Forwarded": {"for=" + ips[1]},
		"Onboarding-Ip": {ips[1]}, "X-Api-Key": {"guess"},
	}
	got, err := deviceAt(t, s, ips[0]).Fetch(context.Background(), spoof)
	if err != nil || got.ICCID != iccids[ips[0]] {
		t.Fatalf("spoofing device got %q (%v), want its own %s", got.ICCID, err, iccids[ips[0]])
	}

	t.Log("onboarding-api refuses callers without the gateway's API key")
	key, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.Resources.APIKeySecret())})
	if err != nil {
		t.Fatal(err)
	}
	for name, h := range map[string]http.Header{
		"no key":    {"Onboarding-Ip": {ips[0]}},
		"wrong key": {"Onboarding-Ip": {ips[0]}, "X-Api-Key": {"not-the-key"}},
	} {
		if code, body := get(t, s.APIURL(), h); code != http.StatusUnauthorized {
			t.Errorf("%s: direct call got %d %s", name, code, body)
		}
	}
	if code, _ := get(t, s.APIURL(), http.Header{"Onboarding-Ip": {ips[0]}, "X-Api-Key": {*key.SecretString}}); code != http.StatusOK {
		t.Errorf("the gateway's key is refused: %d", code)
	}

	t.Log("a SIM removed from the account loses access; the others keep it")
	if err := admin(s).RemoveSIM(context.Background(), iccids[ips[2]]); err != nil {
		t.Fatal(err)
	}
	sync(t, s)
	refused(t, s, ips[2])
	eventually(t, 30*time.Second, "removed SIM's certificate INACTIVE", func() error {
		if st := certStatus(t, iotAPI, certs[ips[2]]); st != iottypes.CertificateStatusInactive {
			return errStatus(st)
		}
		return nil
	})
	for _, ip := range ips[:2] {
		if _, id := onboarded(t, s, ip); id != certs[ip] {
			t.Errorf("%s: certificate changed from %s to %s", ip, certs[ip], id)
		}
	}

	t.Log("each service exposes health, readiness and metrics of its own work")
	ownMetric := map[string]string{
		"sim-poller": "simbridge_sim_poller_runs_total", "provisioner": "simbridge_provisioner_commands_total",
		"deactivator": "simbridge_deactivator_commands_total", "onboarding-api": "simbridge_onboarding_api_requests_total",
		"vpn-gateway": "simbridge_vpn_gateway_requests_total",
	}
	for name, metric := range ownMetric {
		ops := "http://" + s.Procs[name].OpsAddr
		for _, path := range []string{"/healthz", "/readyz"} {
			if code, _ := get(t, ops+path, nil); code != http.StatusOK {
				t.Errorf("%s %s = %d", name, path, code)
			}
		}
		if _, body := get(t, ops+"/metrics", nil); !strings.Contains(body, metric) {
			t.Errorf("%s /metrics lacks %s", name, metric)
		}
	}

	t.Log("SIGTERM: every service exits 0 within its shutdown timeout")
	for _, name := range slices.Backward(devstack.Services) {
		if took, err := s.Procs[name].Terminate(s.Opts.ShutdownTimeout); err != nil {
			t.Errorf("%v (after %v)", err, took)
		}
	}
}

type errStatus iottypes.CertificateStatus

func (e errStatus) Error() string { return "certificate is " + string(e) }

func assertNoPlaintextKeys(t *testing.T, db *dynamodb.Client, table string) {
	t.Helper()
	out, err := db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Items) == 0 {
		t.Fatal("table is empty")
	}
	for _, item := range out.Items {
		cert, ok := item["cert"].(*ddbtypes.AttributeValueMemberM)
		if !ok {
			t.Errorf("record %v has no certificate", item["iccid"])
			continue
		}
		if key, ok := cert.Value["key_ciphertext"].(*ddbtypes.AttributeValueMemberB); !ok || len(key.Value) == 0 {
			t.Errorf("record %v has no sealed key", item["iccid"])
		}
		for name, v := range item {
			if plaintextKey(v) {
				t.Errorf("attribute %s holds a plaintext private key", name)
			}
		}
	}
}

// plaintextKey reports whether an attribute, or anything nested in it, holds
// a PEM private key.
func plaintextKey(v ddbtypes.AttributeValue) bool {
	switch v := v.(type) {
	case *ddbtypes.AttributeValueMemberS:
		return strings.Contains(v.Value, "PRIVATE KEY")
	case *ddbtypes.AttributeValueMemberB:
		return strings.Contains(string(v.Value), "PRIVATE KEY")
	case *ddbtypes.AttributeValueMemberM:
		for _, inner := range v.Value {
			if plaintextKey(inner) {
				return true
			}
		}
	case *ddbtypes.AttributeValueMemberL:
		for _, inner := range v.Value {
			if plaintextKey(inner) {
				return true
			}
		}
	}
	return false
}
