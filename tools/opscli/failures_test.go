package opscli_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
	"github.com/simbridge/simbridge/tools/opscli"
)

// TestFailuresAndRedrive: the real provisioner dead-letters a poisoned
// message (malformed) and a command that fails on every attempt
// (exhausted); failures shows both decoded without consuming them, redrive
// moves one SIM's back, then all.
func TestFailuresAndRedrive(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bootstrap.Options{MaxReceiveCount: 2, VisibilityTimeout: 5 * time.Second}, 2)
	ctx := context.Background()
	queueURL := func(name string) string {
		out, err := e.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		return *out.QueueUrl
	}
	create := queueURL(e.res.CreateQueue())
	send := func(group, dedup, body string) {
		if _, err := e.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(create), MessageBody: aws.String(body),
			MessageGroupId: aws.String(group), MessageDeduplicationId: aws.String(dedup)}); err != nil {
			t.Fatal(err)
		}
	}
	send(e.iccid(2), "poison", `{"kind":"explode","iccid":"`+e.iccid(2)+`"}`)
	cmd := events.SimCommand{Kind: events.KindCreate, ICCID: e.iccid(1), IP: "10.77.0.1", Status: "Enabled", ObservedAt: time.Now()}
	body, _ := cmd.Encode()
	send(e.iccid(1), cmd.DeduplicationID(), string(body))

	// every attempt fails at sealing the key: the KMS key does not exist
	prov := e.start("provisioner", "KMS_KEY_ID=arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000")
	dlq := queueURL(e.res.CreateDLQ())
	testkit.Eventually(t, 60*time.Second, "both messages in the DLQ, the queue drained", func() error {
		if err := depthIs(e, dlq, 2); err != nil {
			return err
		}
		return depthIs(e, create, 0)
	})
	prov.stop()
	// moto keeps serving a stopped consumer's long polls (20 s) and would
	// hand them the messages redriven meanwhile: let them run out.
	zombiePolls := time.After(21 * time.Second)

	var groups []opscli.FailureGroup
	for range 2 { // reading does not consume
		e.run("-o", "json", "failures").want(t, opscli.ExitAttention).json(t, &groups)
		if len(groups) != 2 {
			t.Fatalf("failures: %+v", groups)
		}
	}
	byICCID := map[string]opscli.FailureGroup{}
	for _, g := range groups {
		byICCID[g.ICCID] = g
	}
	poison, exhausted := byICCID[e.iccid(2)], byICCID[e.iccid(1)]
	if poison.Kind != "explode" || poison.Step != "decode" || poison.Attempts != 1 || !poison.Messages[0].Malformed || poison.FirstSeen.IsZero() {
		t.Errorf("poisoned message: %+v", poison)
	}
	if exhausted.Kind != "create" || exhausted.Step != "seal private key" || exhausted.Attempts != 2 || exhausted.Count != 1 ||
		exhausted.Messages[0].CommandID != cmd.DeduplicationID() {
		t.Errorf("exhausted command: %+v", exhausted)
	}
	table := e.run("failures").want(t, opscli.ExitAttention).stdout
	containsAll(t, table, "QUEUE", "STEP", "ATTEMPTS", "FIRST_SEEN", "create", "seal private key", "malformed", "exhausted", "redrive")
	e.run("failures", "--queue", "disable").want(t, opscli.ExitOK)

	<-zombiePolls
	r := e.run("failures", "redrive", e.iccid(1)).want(t, opscli.ExitOK)
	containsAll(t, r.stdout, "moved 1 messages back")
	if err := depthIs(e, dlq, 1); err != nil {
		t.Fatal(err)
	}
	if err := depthIs(e, create, 1); err != nil {
		t.Fatal(err)
	}
	e.run("failures", "redrive", e.iccid(1)).want(t, opscli.ExitAttention) // nothing left of that SIM

	var moved []opscli.RedriveResult
	e.run("-o", "json", "failures", "redrive", "--all").want(t, opscli.ExitOK).json(t, &moved)
	if len(moved) != 1 || moved[0].Moved != 1 {
		t.Fatalf("redrive --all: %+v", moved)
	}
	e.run("failures").want(t, opscli.ExitOK)

	// the provisioner, working again, carries out the redriven command; the
	// poisoned message goes back to the DLQ
	e.start("provisioner")
	testkit.Eventually(t, 60*time.Second, "the redriven create carried out", func() error {
		rec, err := e.store.Get(ctx, e.iccid(1))
		if err != nil || !rec.Active {
			return errorf("record %+v: %v", rec, err)
		}
		return depthIs(e, dlq, 1)
	})
}

func depthIs(e *env, url string, want int) error {
	out, err := e.sqs.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		return err
	}
	visible, hidden := out.Attributes["ApproximateNumberOfMessages"], out.Attributes["ApproximateNumberOfMessagesNotVisible"]
	if visible+"/"+hidden != itoa(want)+"/0" {
		return errorf("queue holds %s visible and %s hidden messages, want %d", visible, hidden, want)
	}
	return nil
}
