package service_test

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
)

// accountQuotas is a small account-wide IoT quota, enforced by the fault
// proxy the way AWS does (ThrottlingException above the rate).
var accountQuotas = map[string]float64{
	"DescribeThing": 16, "CreateThing": 8, "AddThingToThingGroup": 8, "RegisterCertificate": 8,
	"AttachThingPrincipal": 8, "AttachPolicy": 8, "UpdateCertificate": 8, "DescribeCertificate": 8,
	"DetachThingPrincipal": 8, "CreateKeysAndCertificate": 8,
}

func quotaEnv(q map[string]float64) string {
	var parts []string
	for op, rps := range q {
		parts = append(parts, fmt.Sprintf("%s=%g", op, rps))
	}
	sort.Strings(parts)
	return "IOT_QUOTAS=" + strings.Join(parts, ",")
}

// Four provisioner tasks share the account's quota instead of each sending
// all of it: 300 new SIMs end onboardable, nothing in the DLQ, and under 5 %
// of the IoT calls are throttled.
func TestFourTasksKeepToTheAccountQuota(t *testing.T) {
	t.Parallel()
	a := newAccount(t, bootstrap.Options{VisibilityTimeout: 30 * time.Second})
	a.proxy.SetQuotas(accountQuotas)
	const sims = 300
	var cmds []events.SimCommand
	for i := range sims {
		cmds = append(cmds, create(iccid(i), fmt.Sprintf("10.40.%d.%d", i/200, i%200+1)))
	}
	publish(t, a, cmds...)
	logPath := filepath.Join(t.TempDir(), "provisioner.log")
	logOnFailure(t, logPath)
	env := serviceEnv(a, a.proxy.URL, "WORKERS=8", quotaEnv(accountQuotas))
	start := time.Now()
	for range 4 {
		startBinary(t, binary(t, "provisioner"), env, logPath)
	}
	queueEmpty(t, a, a.res.CreateQueueURL, 4*time.Minute)
	took := time.Since(start)
	dlqEmpty(t, a)
	if rep := holds(t, a, simrec.AuthorityOwn, nil); rep.Active != sims {
		t.Errorf("%d of %d SIMs active", rep.Active, sims)
	}
	requests, throttled := a.proxy.Counts()
	var calls, refused int
	for op := range accountQuotas {
		calls += requests[op]
		refused += throttled[op]
	}
	rate := float64(refused) / float64(max(calls, 1))
	t.Logf("4 tasks, %d SIMs in %.0f s: %d IoT calls, %d throttled (%.1f %%), RegisterCertificate %.1f/s of %g",
		sims, took.Seconds(), calls, refused, 100*rate, float64(requests["RegisterCertificate"]-throttled["RegisterCertificate"])/took.Seconds(),
		accountQuotas["RegisterCertificate"])
	if rate >= 0.05 {
		t.Errorf("%.1f %% of IoT calls throttled (%v), want under 5 %%: the tasks do not share the quota", 100*rate, throttled)
	}
}
