package sqsstub_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/tools/sqsstub"
)

// queued is the backlog the benchmarks run against: moto's per-operation
// cost grows with it, the stub's must not.
const queued = 10000

// BenchmarkFIFO measures SendMessage and ReceiveMessage+DeleteMessage
// through the real SDK client over HTTP with 10,000 messages queued in
// 2,000 groups (one per SIM, as in make bench-provision).
func BenchmarkFIFO(b *testing.B) {
	b.Run("send", func(b *testing.B) {
		c, url := benchQueue(b, queued)
		b.ResetTimer()
		for i := range b.N {
			benchSend(b, c, url, queued+i)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
	b.Run("receive+delete", func(b *testing.B) {
		c, url := benchQueue(b, queued+b.N)
		ctx := context.Background()
		b.ResetTimer()
		for range b.N {
			out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 1})
			if err != nil || len(out.Messages) != 1 {
				b.Fatalf("receive: %v", err)
			}
			if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: out.Messages[0].ReceiptHandle}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
}

// benchQueue starts a stub and fills a FIFO queue with n messages.
func benchQueue(b *testing.B, n int) (*sqs.Client, string) {
	b.Helper()
	endpoint, stop, err := sqsstub.Start("127.0.0.1:0", sqsstub.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = stop() })
	cfg, err := testkit.LoadAWSConfig(context.Background(), endpoint)
	if err != nil {
		b.Fatal(err)
	}
	c := sqs.NewFromConfig(cfg)
	out, err := c.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String("bench.fifo"),
		Attributes: map[string]string{"FifoQueue": "true"}})
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		benchSend(b, c, *out.QueueUrl, i)
	}
	return c, *out.QueueUrl
}

func benchSend(b *testing.B, c *sqs.Client, url string, i int) {
	_, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url),
		MessageBody:    aws.String(fmt.Sprintf(`{"kind":"create","iccid":"%019d","n":%d}`, i%2000, i)),
		MessageGroupId: aws.String(fmt.Sprintf("%019d", i%2000)), MessageDeduplicationId: aws.String(fmt.Sprint(i))})
	if err != nil {
		b.Fatal(err)
	}
}
