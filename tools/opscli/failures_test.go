package opscli_test

import (
	"context"
	"strings"
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

// queueURL is the URL of one of the environment's queues.
func (e *env) queueURL(name string) string {
	e.t.Helper()
	out, err := e.sqs.GetQueueUrl(context.Background(), &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		e.t.Fatal(err)
	}
	return *out.QueueUrl
}

// send puts a message on a FIFO queue.
func (e *env) send(url, group, dedup, body string) {
	e.t.Helper()
	if _, err := e.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body),
		MessageGroupId: aws.String(group), MessageDeduplicationId: aws.String(dedup)}); err != nil {
		e.t.Fatal(err)
	}
}

// TestFailuresAndRedrive: the real provisioner dead-letters a poisoned
// message (malformed) and a command that fails on every attempt
// (exhausted); failures shows both decoded without consuming them, redrive
// moves one SIM's back, then all that can succeed: the malformed one stays.
func TestFailuresAndRedrive(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bootstrap.Options{MaxReceiveCount: 2, VisibilityTimeout: 5 * time.Second}, 2)
	ctx := context.Background()
	create := e.queueURL(e.res.CreateQueue())
	e.send(create, e.iccid(2), "poison", `{"kind":"explode","iccid":"`+e.iccid(2)+`"}`)
	cmd := events.SimCommand{Kind: events.KindCreate, ICCID: e.iccid(1), IP: "10.77.0.1", Status: "Enabled", ObservedAt: time.Now()}
	body, _ := cmd.Encode()
	e.send(create, e.iccid(1), cmd.DeduplicationID(), string(body))

	// every attempt fails at sealing the key: the KMS key does not exist
	prov := e.start("provisioner", "KMS_KEY_ID=arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000")
	dlq := e.queueURL(e.res.CreateDLQ())
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

	var rep opscli.FailuresReport
	for range 2 { // reading does not consume
		e.run("-o", "json", "failures").want(t, opscli.ExitAttention).json(t, &rep)
		if len(rep.Groups) != 2 || rep.Total != 2 {
			t.Fatalf("failures: %+v", rep)
		}
	}
	byICCID := map[string]opscli.FailureGroup{}
	for _, g := range rep.Groups {
		byICCID[g.ICCID] = g
	}
	poison, exhausted := byICCID[e.iccid(2)], byICCID[e.iccid(1)]
	if poison.Kind != "explode" || poison.Step != "decode" || poison.Attempts != 1 || !poison.Messages[0].Malformed || poison.FirstSeen.IsZero() ||
		poison.Queue != "create" || poison.Messages[0].Queue != "create" || len(poison.Messages[0].ID) != 8 {
		t.Errorf("poisoned message: %+v", poison)
	}
	if exhausted.Kind != "create" || exhausted.Step != "seal private key" || exhausted.Attempts != 2 || exhausted.Count != 1 ||
		exhausted.Messages[0].CommandID != cmd.DeduplicationID() {
		t.Errorf("exhausted command: %+v", exhausted)
	}
	table := e.run("failures").want(t, opscli.ExitAttention).stdout
	containsAll(t, table, "environment "+e.res.Prefix, "QUEUE", "ID", "STEP", "ATTEMPTS", "REDRIVES", "FIRST_SEEN", "create", "seal private key",
		"malformed", "exhausted", "redrive", poison.Messages[0].ID)
	e.run("failures", "--queue", "disable").want(t, opscli.ExitOK)

	<-zombiePolls
	e.run("failures", "redrive", e.iccid(1)).want(t, opscli.ExitUsage) // a change, no terminal, no --yes
	r := e.run("failures", "redrive", e.iccid(1), "--yes").want(t, opscli.ExitOK)
	containsAll(t, r.stdout, "moved back 1 message(s) in all")
	if err := depthIs(e, dlq, 1); err != nil {
		t.Fatal(err)
	}
	if err := depthIs(e, create, 1); err != nil {
		t.Fatal(err)
	}
	e.run("failures", "redrive", e.iccid(1), "--yes").want(t, opscli.ExitAttention) // nothing left of that SIM

	var moved opscli.RedriveReport
	e.run("-o", "json", "failures", "redrive", "--all", "--yes").want(t, opscli.ExitAttention).json(t, &moved)
	if moved.Done != 0 || len(moved.Kept) != 1 || moved.Kept[0].ICCID != e.iccid(2) {
		t.Fatalf("redrive --all with only a malformed message left: %+v", moved)
	}
	e.run("failures").want(t, opscli.ExitAttention)

	// the provisioner, working again, carries out the redriven command; the
	// poisoned message stays in the DLQ
	e.start("provisioner")
	testkit.Eventually(t, 60*time.Second, "the redriven create carried out", func() error {
		rec, err := e.store.Get(ctx, e.iccid(1))
		if err != nil || !rec.Active {
			return errorf("record %+v: %v", rec, err)
		}
		return depthIs(e, dlq, 1)
	})
}

// TestRedriveMovesEachMessageOnce: with the provisioner running, a redrive
// of malformed messages (asked for explicitly) moves each once and reports
// exactly that; each fails again and comes back once, with one failure
// notification each, and the redrive ends at once instead of moving them
// again and again. Without --include-invalid they stay; delete removes one
// by its id, and a sync request (no SIM command) is redriven by its id.
func TestRedriveMovesEachMessageOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bootstrap.Options{MaxReceiveCount: 2, VisibilityTimeout: 5 * time.Second}, 2)
	create, dlq := e.queueURL(e.res.CreateQueue()), e.queueURL(e.res.CreateDLQ())
	e.send(create, e.iccid(1), "poison-1", `{"kind":"explode","iccid":"`+e.iccid(1)+`"}`)
	e.send(create, e.iccid(2), "poison-2", `not json at all`)
	failures := testkit.SubscribeInbox(t, e.cfg, e.res.FailureTopicARN)
	e.start("provisioner")
	testkit.Eventually(t, 60*time.Second, "both poisoned messages in the DLQ", func() error { return depthIs(e, dlq, 2) })
	if n := len(failures.Drain(t, 2*time.Second)); n != 2 {
		t.Fatalf("%d failure notifications for two malformed messages", n)
	}

	kept := e.run("failures", "redrive", "--all", "--yes").want(t, opscli.ExitAttention)
	containsAll(t, kept.stdout, "moved back 0 message(s)", "kept", "malformed", "--include-invalid")
	if err := depthIs(e, dlq, 2); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	var rep opscli.RedriveReport
	e.run("-o", "json", "failures", "redrive", "--all", "--include-invalid", "--yes").want(t, opscli.ExitOK).json(t, &rep)
	took := time.Since(start)
	if rep.Done != 2 || len(rep.Queues) == 0 {
		t.Fatalf("redrive of two messages: %+v", rep)
	}
	testkit.Eventually(t, 60*time.Second, "both back in the DLQ, once each", func() error { return depthIs(e, create, 0) })
	if err := depthIs(e, dlq, 2); err != nil {
		t.Fatalf("after the redrive: %v", err)
	}
	if notes := failures.Drain(t, 3*time.Second); len(notes) != 2 {
		t.Fatalf("%d failure notifications for two redriven messages, want one each:\n%s", len(notes), strings.Join(notes, "\n"))
	}
	if took > 30*time.Second {
		t.Errorf("the redrive of two messages took %v", took)
	}

	var after opscli.FailuresReport
	e.run("-o", "json", "failures").want(t, opscli.ExitAttention).json(t, &after)
	var ids []string
	for _, g := range after.Groups {
		for _, d := range g.Messages {
			if d.Redrives != 1 {
				t.Errorf("message %s redriven %d times, want 1", d.ID, d.Redrives)
			}
			ids = append(ids, d.ID)
		}
	}
	if len(ids) != 2 {
		t.Fatalf("failures after the redrive: %+v", after)
	}
	e.run("failures", "delete", "--id", ids[0], "--dry-run").want(t, opscli.ExitOK)
	if err := depthIs(e, dlq, 2); err != nil {
		t.Fatalf("a dry run deleted: %v", err)
	}
	r := e.run("failures", "delete", "--id", ids[0], "--yes").want(t, opscli.ExitOK)
	containsAll(t, r.stdout, "deleted 1 message(s) in all")
	if err := depthIs(e, dlq, 1); err != nil {
		t.Fatal(err)
	}

	// a sync request has no SIM command: it is addressed by its id
	syncDLQ := e.queueURL(e.res.SyncDLQ())
	e.send(syncDLQ, "full-sync", "req-1", `{"id":"req-1","source":"operator","requested_at":"2026-01-01T00:00:00Z"}`)
	var sr opscli.FailuresReport
	e.run("-o", "json", "failures", "--queue", "sync").want(t, opscli.ExitAttention).json(t, &sr)
	if len(sr.Groups) != 1 || sr.Groups[0].Messages[0].Malformed {
		t.Fatalf("sync DLQ: %+v", sr)
	}
	e.run("failures", "redrive", "--queue", "sync", "--id", sr.Groups[0].Messages[0].ID, "--yes").want(t, opscli.ExitOK)
	if err := depthIs(e, syncDLQ, 0); err != nil {
		t.Fatal(err)
	}
}

// TestFailuresCountsWhatItCannotRead: a message in flight (received by
// someone else) cannot be read, but the queue's counter has it: failures
// does not report the DLQ empty.
func TestFailuresCountsWhatItCannotRead(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bootstrap.Options{}, 1)
	dlq := e.queueURL(e.res.DisableDLQ())
	e.send(dlq, e.iccid(1), "d-1", `{"kind":"disable","iccid":"`+e.iccid(1)+`"}`)
	got, err := e.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlq), VisibilityTimeout: 300})
	if err != nil || len(got.Messages) != 1 {
		t.Fatalf("receive: %v", err)
	}
	r := e.run("failures").want(t, opscli.ExitAttention)
	containsAll(t, r.stdout, "disable 1 (1 in flight)", "could not be read now")
	var rep opscli.FailuresReport
	e.run("-o", "json", "failures").want(t, opscli.ExitAttention).json(t, &rep)
	if rep.Total != 1 || rep.Unread != 1 || rep.Groups == nil {
		t.Fatalf("report %+v", rep)
	}
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
