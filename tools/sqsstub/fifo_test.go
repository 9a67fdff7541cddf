package sqsstub_test

import (
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// TestFIFOSemantics drives every FIFO behaviour simbridge relies on
// through the real SDK client, one fresh server per case.
func TestFIFOSemantics(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		run  func(t *testing.T, s *stub)
	}{
		{"order within a group, one group locked while in flight", orderWithinGroup},
		{"groups are delivered in parallel", parallelGroups},
		{"a batch takes consecutive messages of a group", batchKeepsGroupOrder},
		{"visibility timeout redelivers in order", visibilityRedelivers},
		{"deduplication id drops a re-send", deduplication},
		{"content-based and per-group deduplication", contentAndGroupDedup},
		{"redrive moves an exhausted message to the DLQ", redriveToDLQ},
		{"long poll wakes on a send", longPollWakesOnSend},
		{"long poll wakes when a visibility timeout expires", longPollWakesOnExpiry},
		{"ChangeMessageVisibility extends, releases and refuses", changeVisibility},
		{"queue attributes and counts", queueAttributes},
		{"standard queue", standardQueue},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, startStub(t))
		})
	}
}

func orderWithinGroup(t *testing.T, s *stub) {
	url, _ := s.fifoPair("order", 5)
	for _, b := range []string{"a1", "a2", "a3"} {
		s.send(url, "a", b)
	}
	for _, want := range []string{"a1", "a2", "a3"} {
		got := s.receive(url, 1, 0)
		if len(got) != 1 || *got[0].Body != want {
			t.Fatalf("want %s, got %v", want, bodies(got))
		}
		if more := s.receive(url, 1, 0); len(more) != 0 {
			t.Fatalf("group a is in flight, yet %v was delivered", bodies(more))
		}
		s.delete(url, got[0])
	}
}

func parallelGroups(t *testing.T, s *stub) {
	url, _ := s.fifoPair("parallel", 5)
	for _, g := range []string{"a", "b", "c"} {
		s.send(url, g, g+"1")
		s.send(url, g, g+"2")
	}
	var got []string
	for range 3 {
		got = append(got, bodies(s.receive(url, 1, 0))...)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"a1", "b1", "c1"}) {
		t.Fatalf("want the head of every group, got %v", got)
	}
	if more := s.receive(url, 10, 0); len(more) != 0 {
		t.Fatalf("every group is in flight, yet %v was delivered", bodies(more))
	}
}

func batchKeepsGroupOrder(t *testing.T, s *stub) {
	url, _ := s.fifoPair("batch", 5)
	for _, b := range []string{"a1", "a2", "a3"} {
		s.send(url, "a", b)
	}
	s.send(url, "b", "b1")
	got := bodies(s.receive(url, 10, 0))
	if !slices.Equal(got, []string{"a1", "a2", "a3", "b1"}) {
		t.Fatalf("got %v", got)
	}
}

func visibilityRedelivers(t *testing.T, s *stub) {
	url, _ := s.fifoPair("visibility", 5)
	s.send(url, "a", "a1")
	s.send(url, "a", "a2")
	out, err := s.sqs.ReceiveMessage(s.ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), VisibilityTimeout: 1,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount}})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("receive: %v %v", err, out)
	}
	time.Sleep(1100 * time.Millisecond)
	again := s.receive(url, 1, 0)
	if len(again) != 1 || *again[0].Body != "a1" || receiveCount(again[0]) != 2 {
		t.Fatalf("want a1 again with receive count 2, got %v", again)
	}
	if *again[0].ReceiptHandle == *out.Messages[0].ReceiptHandle {
		t.Error("a new receive must issue a new receipt handle")
	}
}

func deduplication(t *testing.T, s *stub) {
	url, _ := s.fifoPair("dedup", 5)
	first := s.send(url, "a", "same")
	if again := s.send(url, "a", "same"); again != first {
		t.Errorf("a duplicate is answered with the original's id: %s, want %s", again, first)
	}
	s.send(url, "a", "other")
	if got := bodies(s.receive(url, 10, 0)); !slices.Equal(got, []string{"same", "other"}) {
		t.Fatalf("got %v", got)
	}
}

func contentAndGroupDedup(t *testing.T, s *stub) {
	url := s.queue("content.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true", "DeduplicationScope": "messageGroup"})
	for _, g := range []string{"a", "a", "b"} {
		if _, err := s.sqs.SendMessage(s.ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x"), MessageGroupId: aws.String(g)}); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.receive(url, 10, 0); len(got) != 2 {
		t.Fatalf("want one message per group, got %d", len(got))
	}
}

func redriveToDLQ(t *testing.T, s *stub) {
	url, dlq := s.fifoPair("redrive", 2)
	val := "v"
	if _, err := s.sqs.SendMessage(s.ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("poison"),
		MessageGroupId: aws.String("a"), MessageDeduplicationId: aws.String("p"),
		MessageAttributes: map[string]types.MessageAttributeValue{"k": {DataType: aws.String("String"), StringValue: &val}}}); err != nil {
		t.Fatal(err)
	}
	s.send(url, "a", "next")
	for i := 1; i <= 2; i++ {
		got := s.receive(url, 1, 0)
		if len(got) != 1 || *got[0].Body != "poison" || receiveCount(got[0]) != i {
			t.Fatalf("receive %d: %v", i, got)
		}
		if err := s.setVisibility(url, got[0], 0); err != nil {
			t.Fatal(err)
		}
	}
	if got := bodies(s.receive(url, 1, 0)); !slices.Equal(got, []string{"next"}) {
		t.Fatalf("after maxReceiveCount the next message follows, got %v", got)
	}
	moved := s.receive(dlq, 1, 0)
	if len(moved) != 1 || *moved[0].Body != "poison" || *moved[0].MessageAttributes["k"].StringValue != "v" ||
		moved[0].Attributes["MessageGroupId"] != "a" {
		t.Fatalf("DLQ: %+v", moved)
	}
}

func longPollWakesOnSend(t *testing.T, s *stub) {
	url, _ := s.fifoPair("poll", 5)
	sent := make(chan error, 1)
	go func() {
		time.Sleep(200 * time.Millisecond)
		_, err := s.sqs.SendMessage(s.ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("late"),
			MessageGroupId: aws.String("a"), MessageDeduplicationId: aws.String("late")})
		sent <- err
	}()
	start := time.Now()
	got := s.receive(url, 1, 10)
	if len(got) != 1 || time.Since(start) > 2*time.Second {
		t.Errorf("got %v after %v", bodies(got), time.Since(start))
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
}

func longPollWakesOnExpiry(t *testing.T, s *stub) {
	url, _ := s.fifoPair("expiry", 5)
	s.send(url, "a", "a1")
	if _, err := s.sqs.ReceiveMessage(s.ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), VisibilityTimeout: 1}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got := s.receive(url, 1, 10)
	if len(got) != 1 || time.Since(start) > 3*time.Second {
		t.Fatalf("got %v after %v", bodies(got), time.Since(start))
	}
}

func changeVisibility(t *testing.T, s *stub) {
	url, _ := s.fifoPair("change", 5)
	s.send(url, "a", "a1")
	out, err := s.sqs.ReceiveMessage(s.ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), VisibilityTimeout: 1})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("receive: %v", err)
	}
	m := out.Messages[0]
	if err := s.setVisibility(url, m, 5); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	if got := s.receive(url, 1, 0); len(got) != 0 {
		t.Fatalf("extended message came back early: %v", bodies(got))
	}
	if err := s.setVisibility(url, m, 0); err != nil {
		t.Fatal(err)
	}
	again := s.receive(url, 1, 0)
	if len(again) != 1 {
		t.Fatal("visibility 0 must release the message at once")
	}
	if err := s.setVisibility(url, again[0], 0); err != nil {
		t.Fatal(err)
	}
	if err := s.setVisibility(url, again[0], 10); !as[*types.MessageNotInflight](err) {
		t.Errorf("a visible message: want MessageNotInflight, got %v", err)
	}
	s.delete(url, again[0])
	if err := s.setVisibility(url, again[0], 10); !as[*types.ReceiptHandleIsInvalid](err) {
		t.Errorf("a deleted message: want ReceiptHandleIsInvalid, got %v", err)
	}
}

func queueAttributes(t *testing.T, s *stub) {
	url, dlq := s.fifoPair("attrs", 3)
	s.send(url, "a", "a1")
	s.send(url, "a", "a2")
	s.receive(url, 1, 0)
	got := s.attrs(url, types.QueueAttributeNameAll)
	want := map[string]string{
		"ApproximateNumberOfMessages": "1", "ApproximateNumberOfMessagesNotVisible": "1", "FifoQueue": "true",
		"VisibilityTimeout": "30", "QueueArn": "arn:aws:sqs:us-east-1:123456789012:attrs.fifo",
		"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:attrs-dlq.fifo","maxReceiveCount":3}`,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if _, err := s.sqs.SetQueueAttributes(s.ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url),
		Attributes: map[string]string{"VisibilityTimeout": "7"}}); err != nil {
		t.Fatal(err)
	}
	if v := s.attrs(url, types.QueueAttributeNameVisibilityTimeout)["VisibilityTimeout"]; v != "7" {
		t.Errorf("VisibilityTimeout after set = %q", v)
	}
	if u := s.queue("attrs-dlq.fifo", map[string]string{"FifoQueue": "true"}); u != dlq {
		t.Errorf("CreateQueue of an existing queue: %s, want %s", u, dlq)
	}
}

func standardQueue(t *testing.T, s *stub) {
	url := s.queue("plain", nil)
	s.send(url, "", "one")
	s.send(url, "", "two")
	got := s.receive(url, 10, 0)
	if len(got) != 2 {
		t.Fatalf("got %v", bodies(got))
	}
	if _, ok := got[0].Attributes["MessageGroupId"]; ok {
		t.Error("a standard queue's message has no group")
	}
}
