package opscli_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/iotcore"
	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
	"github.com/simbridge/simbridge/tools/opscli"
)

// TestAuditFindsAndFixesDrift provisions SIMs through the real services
// (sim-poller, provisioner, deactivator),
// breaks them by hand in every way the audit knows, and checks that audit
// lists each disagreement, that --fix repairs through commands what it can
// prove is simbridge's, and that it touches nothing else.
func TestAuditFindsAndFixesDrift(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bootstrap.Options{}, 10)
	e.start("provisioner")
	e.start("deactivator")
	e.startPoller()
	for i := 1; i <= 8; i++ {
		e.provision(e.iccid(i))
	}
	var clean opscli.AuditReport
	e.run("-o", "json", "audit").want(t, opscli.ExitAttention).json(t, &clean)
	if len(clean.Findings) != 2 || clean.Counts[opscli.DriftEnabledNotActive] != 2 {
		t.Fatalf("before any drift only SIMs 9 and 10 (enabled in 1NCE, never synced) differ: %+v", clean.Findings)
	}
	ctx := context.Background()
	thingOf := func(i int) string { return e.record(e.iccid(i)).ThingName }
	arnOf := func(i int) string { return e.record(e.iccid(i)).CertificateARN() }
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	// 1: the Thing is gone
	must(e.iot.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String(thingOf(1)), Principal: aws.String(arnOf(1))}))
	must(e.iot.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String(thingOf(1))}))
	// 2: disabled by the deactivator, then its certificate ACTIVE again by hand
	disable(t, e, e.iccid(2))
	must(e.iot.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(e.record(e.iccid(2)).CertificateID()), NewStatus: iottypes.CertificateStatusActive}))
	// 3: certificate INACTIVE; 4: policy detached; 5: detached from its Thing
	must(e.iot.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(e.record(e.iccid(3)).CertificateID()), NewStatus: iottypes.CertificateStatusInactive}))
	must(e.iot.DetachPolicy(ctx, &iot.DetachPolicyInput{PolicyName: aws.String(e.res.Policy()), Target: aws.String(arnOf(4))}))
	must(e.iot.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String(thingOf(5)), Principal: aws.String(arnOf(5))}))
	// 6: an interrupted attempt left a certificate to retire
	leftover, err := e.iot.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true})
	must(leftover, err)
	r6 := e.record(e.iccid(6))
	r6.Retiring = []string{*leftover.CertificateArn}
	must(e.store.Update(ctx, r6))
	// 7: disabled in 1NCE; 8: shares SIM 5's IP in the table
	if err := e.once.Inventory().SetStatus(e.iccid(7), onceapi.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	r8 := e.record(e.iccid(8))
	r8.IP = "10.77.0.5"
	must(e.store.Update(ctx, r8))
	// 10: a managed Thing in the environment's group without record
	must(e.iot.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(e.iccid(10)),
		AttributePayload: &iottypes.AttributePayload{Attributes: map[string]string{iotcore.ManagedAttribute: iotcore.ManagedValue}}}))
	must(e.iot.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingName: aws.String(e.iccid(10)), ThingGroupName: aws.String(e.res.ThingGroup())}))
	// not provably this environment's: a managed Thing outside the group, a
	// Thing someone else created, a certificate without the policy
	must(e.iot.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(e.res.Prefix + "-elsewhere"),
		AttributePayload: &iottypes.AttributePayload{Attributes: map[string]string{iotcore.ManagedAttribute: iotcore.ManagedValue}}}))
	must(e.iot.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(e.res.Prefix + "-foreign")}))
	// an orphan: ACTIVE, with the environment's policy, named by no record
	orphan, err := e.iot.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true})
	must(orphan, err)
	must(e.iot.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(e.res.Policy()), Target: orphan.CertificateArn}))

	var rep opscli.AuditReport
	e.run("-o", "json", "audit").want(t, opscli.ExitAttention).json(t, &rep)
	want := map[string][]string{
		opscli.DriftRecordWithoutThing:   {e.iccid(1)},
		opscli.DriftActiveCertOfInactive: {e.iccid(2)},
		opscli.DriftCertNotActive:        {e.iccid(3)},
		opscli.DriftCertWithoutPolicy:    {e.iccid(4)},
		opscli.DriftCertNotAttached:      {e.iccid(1), e.iccid(5)},
		opscli.DriftInterruptedAttempt:   {e.iccid(6)},
		opscli.DriftActiveNotEnabled:     {e.iccid(7)},
		opscli.DriftIPConflict:           {e.iccid(5), e.iccid(8)},
		opscli.DriftIPDiffers:            {e.iccid(8)},
		opscli.DriftEnabledNotActive:     {e.iccid(2), e.iccid(9), e.iccid(10)},
		opscli.DriftThingWithoutRecord:   {e.iccid(10)},
		opscli.DriftOrphanCertificate:    {""},
	}
	got := map[string][]string{}
	for _, f := range rep.Findings {
		got[f.Kind] = append(got[f.Kind], f.ICCID)
		if f.Kind == opscli.DriftOrphanCertificate && f.Certificate != *orphan.CertificateId {
			t.Errorf("orphan %s, want %s", f.Certificate, *orphan.CertificateId)
		}
	}
	for kind, ids := range want {
		if len(got[kind]) != len(ids) || rep.Counts[kind] != len(ids) {
			t.Errorf("%s: got %v (count %d), want %v", kind, got[kind], rep.Counts[kind], ids)
		}
		delete(got, kind)
	}
	if len(got) > 0 {
		t.Errorf("unexpected findings: %v", got)
	}
	table := e.run("audit").want(t, opscli.ExitAttention).stdout
	containsAll(t, table, "KIND", "record-without-thing", "human", "disagreement(s):", "audit --fix would repair")

	// the repair is capped like sim-poller's mass-disable guard, and can be
	// previewed; neither changes anything
	capped := e.run("audit", "--fix", "--max-changes", "3", "--yes").want(t, opscli.ExitError)
	containsAll(t, capped.stderr, "would change 10 SIMs, more than the cap of 3", "--force")
	var plan opscli.Plan
	e.run("-o", "json", "audit", "--fix", "--dry-run").want(t, opscli.ExitOK).json(t, &plan)
	if !plan.DryRun || len(plan.Steps) != 10 {
		t.Fatalf("dry run of the repair: %+v", plan)
	}
	var unchanged opscli.AuditReport
	e.run("-o", "json", "audit").want(t, opscli.ExitAttention).json(t, &unchanged)
	if len(unchanged.Findings) != len(rep.Findings) {
		t.Fatalf("a refused or previewed repair changed something: %d findings, were %d", len(unchanged.Findings), len(rep.Findings))
	}

	var fixed opscli.AuditReport
	e.run("-o", "json", "audit", "--fix", "--yes", "--timeout", "3m").want(t, opscli.ExitAttention).json(t, &fixed)
	fixes := map[string]string{}
	for _, f := range fixed.Fixes {
		for _, id := range f.ICCIDs {
			fixes[id] = f.Fix + ":" + f.Outcome
		}
	}
	for id, want := range map[string]string{e.iccid(1): "reissue:done", e.iccid(2): "revoke:done", e.iccid(3): "reissue:done",
		e.iccid(4): "reissue:done", e.iccid(5): "reissue:done", e.iccid(6): "enable:done", e.iccid(7): "sync:done",
		e.iccid(8): "sync:done", e.iccid(9): "sync:done", e.iccid(10): "sync:done"} {
		if fixes[id] != want {
			t.Errorf("fix of %s: %q, want %q (all: %+v)", id, fixes[id], want, fixed.Fixes)
		}
	}
	// SIM 2, now revoked, last saw 1NCE disable it and 1NCE enables it: by
	// the full sync's rules it is to be enabled again (a fresh
	// certificate). A second repair, narrowed to it, sends that sync.
	testkit.Eventually(t, 60*time.Second, "SIM 2 revoked, to be enabled again by the rules", func() error {
		var after opscli.AuditReport
		e.run("-o", "json", "audit", "--iccid", e.iccid(2)).json(t, &after)
		if len(after.Findings) != 1 || after.Findings[0].Kind != opscli.DriftEnabledNotActive {
			return errorf("findings of SIM 2: %+v", after.Findings)
		}
		return nil
	})
	e.run("audit", "--fix", "--yes", "--iccid", e.iccid(2), "--kind", opscli.DriftEnabledNotActive).want(t, opscli.ExitOK)
	// sim-poller's commands (disable 7, move 8, create 2, 9 and 10) finish
	// after the sync request's result: audit until only the orphan is left
	testkit.Eventually(t, 60*time.Second, "only the orphan left", func() error {
		var after opscli.AuditReport
		e.run("-o", "json", "audit").want(t, opscli.ExitAttention).json(t, &after)
		if len(after.Findings) != 1 || after.Findings[0].Certificate != *orphan.CertificateId {
			return errorf("findings %+v", after.Findings)
		}
		return nil
	})
	if st := certStatus(t, e, *orphan.CertificateId); st != "ACTIVE" {
		t.Errorf("the orphan is not provably simbridge's and must stay untouched; it is %s", st)
	}
	for _, name := range []string{e.res.Prefix + "-elsewhere", e.res.Prefix + "-foreign"} {
		must(e.iot.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(name)}))
	}
	if st := certStatus(t, e, *leftover.CertificateId); st != "REVOKED" {
		t.Errorf("the interrupted attempt's certificate is %s, want REVOKED", st)
	}
}

// disable sends sim-poller's disable command for a SIM and waits for it.
func disable(t *testing.T, e *env, id string) {
	t.Helper()
	rec := e.record(id)
	cmd := events.SimCommand{Kind: events.KindDisable, ICCID: id, IP: rec.IP, Status: onceapi.StatusDisabled,
		BaseVersion: rec.Version, BaseCommand: rec.LastCommand, ObservedAt: time.Now()}
	body, _ := cmd.Encode()
	ctx := context.Background()
	url, err := e.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(e.res.DisableQueue())})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: url.QueueUrl, MessageBody: aws.String(string(body)),
		MessageGroupId: aws.String(id), MessageDeduplicationId: aws.String(cmd.DeduplicationID())}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, "SIM disabled", func() error {
		if r := e.record(id); r.Active || r.ClaimedBy != "" {
			return errorf("record %s active=%v claimed=%q", id, r.Active, r.ClaimedBy)
		}
		return nil
	})
}
