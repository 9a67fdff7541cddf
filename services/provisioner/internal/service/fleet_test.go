package service_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
)

// atQuota is how IoT Core behaves at its quota, every day: a fifth of the
// calls throttled, a few failing with 500 after they took effect, resets
// before and after the call, attach and update calls taking 1–3 s.
func atQuota() []*testkit.Fault {
	return []*testkit.Fault{
		{Operation: "IoT", Rate: 0.20, Status: 400, Code: "ThrottlingException"},
		{Operation: "IoT", Rate: 0.05, Status: 500, Code: "InternalFailureException", AfterForward: true},
		{Operation: "IoT", Rate: 0.02, Reset: true, AfterForward: true},
		{Operation: "IoT", Rate: 0.02, Reset: true},
		{Operation: "AttachThingPrincipal", Rate: 1, Delay: time.Second, DelayMax: 3 * time.Second},
		{Operation: "AttachPolicy", Rate: 1, Delay: time.Second, DelayMax: 3 * time.Second},
		{Operation: "UpdateCertificate", Rate: 1, Delay: time.Second, DelayMax: 3 * time.Second},
	}
}

const fleetSIMs = 200

func fleet(t *testing.T, a account) []string {
	t.Helper()
	var ids []string
	var cmds []events.SimCommand
	for i := range fleetSIMs {
		ids = append(ids, iccid(i))
		cmds = append(cmds, create(iccid(i), fmt.Sprintf("10.20.%d.%d", i/200, i%200+1)))
	}
	publish(t, a, cmds...)
	return ids
}

// settled waits for the create queue to drain, then checks that nothing
// went to a DLQ, every SIM is active and the invariant holds account-wide.
func settled(t *testing.T, a account, authority string, ids []string, limit time.Duration) testkit.Report {
	t.Helper()
	queueEmpty(t, a, a.res.CreateQueueURL, limit)
	a.proxy.Set()
	dlqEmpty(t, a)
	rep := holds(t, a, authority, nil)
	if rep.Active != len(ids) {
		t.Errorf("%d of %d SIMs active", rep.Active, len(ids))
	}
	return rep
}

// 200 new SIMs converge to the invariant with nothing in the DLQ while IoT
// Core behaves as at its quota (throttling, answers lost after the call took
// effect, resets, slow calls) and the provisioner process is killed with
// SIGKILL at random moments and restarted, with either certificate authority.
func TestFleetConvergesAtTheQuotaThroughKills(t *testing.T) {
	t.Parallel()
	for i, authority := range authorities {
		t.Run(authority, func(t *testing.T) {
			t.Parallel()
			a := newAccount(t, bootstrap.Options{VisibilityTimeout: 8 * time.Second, MaxReceiveCount: 8}, uint64(21+i))
			a.proxy.Set(atQuota()...)
			ids := fleet(t, a)
			logPath := filepath.Join(t.TempDir(), "provisioner.log")
			logOnFailure(t, logPath)
			env := serviceEnv(a, a.proxy.URL, "WORKERS=32", "CERT_AUTHORITY="+authority, "CLAIM_TTL=20s")
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			for range 5 {
				p := startBinary(t, binary(t, "provisioner"), env, logPath)
				time.Sleep(time.Duration(1500+rng.IntN(3000)) * time.Millisecond)
				_ = p.cmd.Process.Signal(syscall.SIGKILL)
				<-p.done
				p.done <- nil
			}
			startBinary(t, binary(t, "provisioner"), env, logPath)
			rep := settled(t, a, authority, ids, 8*time.Minute)
			t.Logf("%s: %d active, %d orphans left by lost answers", authority, rep.Active, len(rep.Orphans))
		})
	}
}
