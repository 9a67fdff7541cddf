package service_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
)

// Every SIM ends correct although AWS throttles, fails (sometimes after the
// call took effect), answers slowly and drops connections on chosen
// operations, with either certificate authority.
func TestEverySIMEndsCorrectDespiteAWSFaults(t *testing.T) {
	t.Parallel()
	for _, authority := range authorities {
		t.Run(authority, func(t *testing.T) {
			t.Parallel()
			a := newAccount(t, bootstrap.Options{MaxReceiveCount: 10, VisibilityTimeout: 10 * time.Second})
			faults := []*testkit.Fault{
				{Operation: "PutItem", Every: 4, Status: 500, Code: "InternalServerError"},
				{Operation: "Encrypt", Every: 3, Delay: 400 * time.Millisecond},
				{Operation: "AttachPolicy", Every: 4, Reset: true},
				{Operation: "AttachThingPrincipal", Every: 3, Status: 500, Code: "InternalFailureException", AfterForward: true},
				{Operation: "GetItem", Every: 5, Status: 400, Code: "ProvisionedThroughputExceededException"},
				{Operation: "DeleteMessage", Every: 4, Reset: true},
			}
			if authority == simrec.AuthorityAWS {
				faults = append(faults,
					&testkit.Fault{Operation: "CreateKeysAndCertificate", Every: 3, Status: 400, Code: "ThrottlingException"},
					&testkit.Fault{Operation: "CreateKeysAndCertificate", Every: 5, Status: 500, Code: "InternalFailureException", AfterForward: true},
					&testkit.Fault{Operation: "UpdateCertificate", Every: 3, Status: 503, Code: "ServiceUnavailableException", AfterForward: true})
			} else {
				faults = append(faults,
					&testkit.Fault{Operation: "RegisterCertificate", Every: 3, Status: 400, Code: "ThrottlingException"},
					&testkit.Fault{Operation: "RegisterCertificate", Every: 5, Status: 500, Code: "InternalFailureException", AfterForward: true},
					&testkit.Fault{Operation: "Sign", Every: 4, Status: 500, Code: "KMSInternalException"})
			}
			a.proxy.Set(faults...)
			startProvisioner(t, a, options{workers: 4, authority: authority})
			var ids []string
			for i := range 16 {
				ids = append(ids, iccid(i))
				publish(t, a, create(iccid(i), fmt.Sprintf("10.1.0.%d", i+1)))
			}
			allActive(t, a, ids, 3*time.Minute)
			for _, f := range faults {
				if f.Applied() == 0 {
					t.Errorf("fault on %s never fired: the test did not exercise it", f.Operation)
				}
			}
			a.proxy.Set()
			holds(t, a, authority, nil)
		})
	}
}

// A message that cannot be decoded goes to the DLQ with one failure
// notification; the others are provisioned.
func TestPoisonMessageGoesToDLQAndOthersFlow(t *testing.T) {
	t.Parallel()
	a := newAccount(t, bootstrap.Options{MaxReceiveCount: 3})
	failures := testkit.SubscribeInbox(t, a.cfg, a.res.FailureTopicARN)
	q := sqs.NewFromConfig(a.cfg)
	_, err := q.SendMessage(context.Background(), &sqs.SendMessageInput{
		QueueUrl: aws.String(a.res.CreateQueueURL), MessageBody: aws.String(`{"kind":"create","iccid":`),
		MessageGroupId: aws.String("poison"), MessageDeduplicationId: aws.String("poison-1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{iccid(1), iccid(2), iccid(3)}
	for i, id := range ids {
		publish(t, a, create(id, fmt.Sprintf("10.2.0.%d", i+1)))
	}
	startProvisioner(t, a, options{workers: 2})
	allActive(t, a, ids, time.Minute)
	dead := testkit.DrainQueue(t, q, a.res.CreateDLQURL, 2*time.Second)
	if len(dead) != 1 || !strings.Contains(dead[0], `"iccid":`) {
		t.Fatalf("DLQ holds %q, want the one poison message", dead)
	}
	notes := failures.Drain(t, 2*time.Second)
	if len(notes) != 1 || !strings.Contains(notes[0], "Malformed message") || !strings.Contains(notes[0], `"timestamp":`) {
		t.Fatalf("failure notifications %q, want exactly one about the malformed message", notes)
	}
}

// A command that keeps failing is retried promptly, then moved to the DLQ
// with one notification naming the SIM and the step; other SIMs flow.
func TestExhaustedCommandGoesToDLQNamingTheStep(t *testing.T) {
	t.Parallel()
	a := newAccount(t, bootstrap.Options{MaxReceiveCount: 3, VisibilityTimeout: 60 * time.Second})
	failures := testkit.SubscribeInbox(t, a.cfg, a.res.FailureTopicARN)
	broken := iccid(7)
	a.proxy.Set(&testkit.Fault{Operation: "GET /things/" + broken, Status: 400, Code: "InvalidRequestException"})
	startProvisioner(t, a, options{workers: 2})
	start := time.Now()
	publish(t, a, create(broken, "10.3.0.7"), create(iccid(8), "10.3.0.8"))
	allActive(t, a, []string{iccid(8)}, time.Minute)
	q := sqs.NewFromConfig(a.cfg)
	var dead []string
	eventually(t, 45*time.Second, "failing command in the DLQ", func() error {
		dead = append(dead, testkit.DrainQueue(t, q, a.res.CreateDLQURL, time.Second)...)
		if len(dead) == 0 {
			return fmt.Errorf("DLQ empty")
		}
		return nil
	})
	if took := time.Since(start); took > 40*time.Second {
		t.Errorf("3 attempts took %v: failed attempts must come back before the 60 s visibility timeout", took)
	}
	if len(dead) != 1 || !strings.Contains(dead[0], broken) {
		t.Fatalf("DLQ holds %q", dead)
	}
	notes := failures.Drain(t, 2*time.Second)
	if len(notes) != 1 || !strings.Contains(notes[0], broken) || !strings.Contains(notes[0], "ensure thing") || !strings.Contains(notes[0], "after 3 attempts") {
		t.Fatalf("failure notifications %q, want one naming %s and the step", notes, broken)
	}
	// The record says where the SIM got stuck, for operators.
	rec, err := a.check.Record(context.Background(), broken)
	if err != nil || rec.LastFailure == nil || rec.LastFailure.Step != "ensure thing" || rec.LastFailure.Attempts != 3 ||
		!strings.Contains(rec.LastFailure.Reason, "InvalidRequestException") {
		t.Fatalf("last failure on the record: %+v (%v)", rec.LastFailure, err)
	}
	if ok, _ := a.check.Record(context.Background(), iccid(8)); ok.LastFailure != nil {
		t.Fatalf("a provisioned SIM carries a failure: %+v", ok.LastFailure)
	}
}

// A command that fails transiently (5xx, throttling) as often as the queue
// allows is put back with a fresh receive count instead of going to the DLQ:
// the DLQ is for work that cannot succeed. Once AWS recovers, the SIM is
// provisioned.
func TestTransientFailuresNeverReachTheDLQ(t *testing.T) {
	t.Parallel()
	a := newAccount(t, bootstrap.Options{MaxReceiveCount: 2, VisibilityTimeout: 5 * time.Second})
	failures := testkit.SubscribeInbox(t, a.cfg, a.res.FailureTopicARN)
	outage := &testkit.Fault{Operation: "RegisterCertificate", Times: 12, Status: 503, Code: "ServiceUnavailableException"}
	a.proxy.Set(outage)
	startProvisioner(t, a, options{workers: 1, maxAttempts: 2})
	publish(t, a, create(iccid(60), "10.3.1.60"))
	allActive(t, a, []string{iccid(60)}, 2*time.Minute)
	if outage.Applied() != 12 {
		t.Fatalf("the outage answered %d calls, want 12: the command gave up", outage.Applied())
	}
	dlqEmpty(t, a)
	if notes := failures.Drain(t, time.Second); len(notes) != 0 {
		t.Errorf("failure notifications %q for work that succeeded", notes)
	}
}

// On the first deploy the IoT CA is set up after the stack: a provisioner
// started before waits for it (its commands stay queued) and works as soon
// as the setup ran.
func TestProvisionerWaitsForTheCA(t *testing.T) {
	t.Parallel()
	a := newAccount(t, bootstrap.Options{})
	ctx := context.Background()
	params := ssm.NewFromConfig(a.cfg)
	if _, err := params.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(a.res.CAParameter())}); err != nil {
		t.Fatal(err)
	}
	startProvisioner(t, a, options{workers: 1})
	publish(t, a, create(iccid(70), "10.3.2.70"))
	time.Sleep(3 * time.Second)
	if _, err := a.check.Record(ctx, iccid(70)); err == nil {
		t.Fatal("a command was handled without a CA")
	}
	if _, _, err := bootstrap.EnsureCA(ctx, a.cfg, a.res.Names); err != nil {
		t.Fatal(err)
	}
	allActive(t, a, []string{iccid(70)}, time.Minute)
}
