package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/tools/devstack"
)

// TestSIMStateChangesInTheAccountReachTheDevice changes SIMs in the simulated
// 1NCE account the way an operator does in the 1NCE portal and checks what
// the device at each IP gets after a sync: disabled → 404 and an INACTIVE
// certificate; IP changed → the device at the new IP onboards with the same
// certificate and the old IP gets 404; enabled again → the device onboards
// with its old certificate, ACTIVE again.
func TestSIMStateChangesInTheAccountReachTheDevice(t *testing.T) {
	// The test triggers every sync itself, so each one's commands are known;
	// the Data Streamer is off (realtime_test.go covers it).
	s := startStack(t, devstack.Options{SIMs: 3, SyncInterval: time.Hour, ShutdownTimeout: 10 * time.Second, NoDataStreamer: true,
		Env: map[string][]string{"sim-poller": {"SYNC_ON_START=false"}}})
	iotAPI := iot.NewFromConfig(testkit.AWSConfigFor(t, s.AWSEndpoint()))
	ctx := context.Background()
	syncPublishes(t, s, map[string]int{"create": 3})
	iccids, certs := map[string]string{}, map[string]string{}
	for _, ip := range ips {
		creds, id := onboarded(t, s, ip)
		iccids[ip], certs[ip] = creds.ICCID, id
	}
	disabledIP, movedIP, newIP := ips[0], ips[1], "127.0.0.9"

	t.Log("a SIM disabled in 1NCE: its device gets 404 and its certificate is INACTIVE")
	if err := admin(s).SetStatus(ctx, iccids[disabledIP], onceapi.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	syncPublishes(t, s, map[string]int{"disable": 1})
	refused(t, s, disabledIP)
	waitCertStatus(t, iotAPI, certs[disabledIP], iottypes.CertificateStatusInactive)

	t.Log("a SIM given a new IP: the device at the new IP onboards with the same certificate, the old IP gets 404")
	if err := admin(s).SetIP(ctx, iccids[movedIP], newIP); err != nil {
		t.Fatal(err)
	}
	syncPublishes(t, s, map[string]int{"update": 1})
	creds, id := onboarded(t, s, newIP)
	if creds.ICCID != iccids[movedIP] || id != certs[movedIP] {
		t.Errorf("device at %s got SIM %s certificate %s; want SIM %s with its certificate %s", newIP, creds.ICCID, id, iccids[movedIP], certs[movedIP])
	}
	refused(t, s, movedIP)
	waitCertStatus(t, iotAPI, certs[movedIP], iottypes.CertificateStatusActive)

	t.Log("the disabled SIM enabled again: its device onboards with the same certificate, ACTIVE again")
	if err := admin(s).SetStatus(ctx, iccids[disabledIP], onceapi.StatusEnabled); err != nil {
		t.Fatal(err)
	}
	syncPublishes(t, s, map[string]int{"create": 1})
	creds, id = onboarded(t, s, disabledIP)
	if creds.ICCID != iccids[disabledIP] || id != certs[disabledIP] {
		t.Errorf("re-enabled device got SIM %s certificate %s; want SIM %s with its certificate %s", creds.ICCID, id, iccids[disabledIP], certs[disabledIP])
	}
	waitCertStatus(t, iotAPI, certs[disabledIP], iottypes.CertificateStatusActive)

	t.Log("the untouched SIM kept its certificate throughout, and nothing is left to publish")
	if _, id := onboarded(t, s, ips[2]); id != certs[ips[2]] {
		t.Errorf("untouched device's certificate changed from %s to %s", certs[ips[2]], id)
	}
	syncPublishes(t, s, map[string]int{})
}

// syncPublishes runs POST /sync and checks the commands it published, by kind.
func syncPublishes(t *testing.T, s *devstack.Stack, want map[string]int) {
	t.Helper()
	out, err := s.Sync(context.Background())
	if err != nil {
		t.Fatalf("sync: %v %s", err, out)
	}
	var sum struct {
		Complete  bool           `json:"listing_complete"`
		Published map[string]int `json:"published"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("sync summary %q: %v", out, err)
	}
	if !sum.Complete || !maps.Equal(sum.Published, want) {
		t.Fatalf("sync published %v (complete %v), want %v: %s", sum.Published, sum.Complete, want, out)
	}
}

// waitCertStatus waits until the certificate has status in IoT Core.
func waitCertStatus(t *testing.T, api *iot.Client, id string, status iottypes.CertificateStatus) {
	t.Helper()
	eventually(t, 30*time.Second, fmt.Sprintf("certificate %s %s", id, status), func() error {
		if got := certStatus(t, api, id); got != status {
			return errStatus(got)
		}
		return nil
	})
}
