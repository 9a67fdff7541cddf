package opscli_test

import (
	"context"
	"encoding/json"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
	"github.com/simbridge/simbridge/tools/opscli"
)

// fakePoller answers sync requests the way the contract in
// libs/events/sync.go says sim-poller does: the result item in the lease
// table. It records the requests it saw.
type fakePoller struct {
	requests chan events.SyncRequest
	status   atomic.Value
}

func (e *env) fakePoller(status string) *fakePoller {
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(cancel)
	p := &fakePoller{requests: make(chan events.SyncRequest, 100)}
	p.status.Store(status)
	url, err := e.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(e.res.SyncQueue())})
	if err != nil {
		e.t.Fatal(err)
	}
	db := dynamodb.NewFromConfig(e.cfg)
	go func() {
		for ctx.Err() == nil {
			out, err := e.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url.QueueUrl, WaitTimeSeconds: 1})
			if err != nil {
				continue
			}
			for _, m := range out.Messages {
				req, err := events.DecodeSyncRequest([]byte(*m.Body))
				if err != nil {
					continue
				}
				sum, _ := json.Marshal(map[string]any{"listed": len(req.ICCIDs), "created": 0, "disabled": 0, "force": req.Force})
				_, _ = db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.res.Leases()), Item: map[string]ddbtypes.AttributeValue{
					"name":        &ddbtypes.AttributeValueMemberS{Value: events.SyncResultKey(req.ID)},
					"status":      &ddbtypes.AttributeValueMemberS{Value: p.status.Load().(string)},
					"summary":     &ddbtypes.AttributeValueMemberS{Value: string(sum)},
					"finished_at": &ddbtypes.AttributeValueMemberS{Value: time.Now().UTC().Format(time.RFC3339)},
					"expires_at":  &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(time.Now().Add(24*time.Hour).UnixMilli(), 10)},
				}})
				_, _ = e.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: url.QueueUrl, ReceiptHandle: m.ReceiptHandle})
				p.requests <- req
			}
		}
	}()
	return p
}

// TestSyncThroughTheBus: sync sends a SyncRequest naming the caller and
// prints the result sim-poller stored; a failed run exits 1, no answer 4.
func TestSyncThroughTheBus(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bootstrap.Options{}, 1)
	e.run("sync", "--timeout", "2s").want(t, opscli.ExitTimeout) // nobody consumes yet
	p := e.fakePoller("done")
	<-p.requests // the unanswered one above

	var res opscli.SyncResult
	e.run("-o", "json", "sync", e.iccid(1), e.iccid(2)).want(t, opscli.ExitOK).json(t, &res)
	req := <-p.requests
	if res.Status != "done" || res.RequestID != req.ID || len(req.ICCIDs) != 2 || req.Source != events.SourceOperator || req.RequestedBy == "" {
		t.Fatalf("result %+v for request %+v", res, req)
	}
	var sum map[string]any
	if err := json.Unmarshal(res.Summary, &sum); err != nil || sum["listed"] != float64(2) {
		t.Fatalf("summary %s: %v", res.Summary, err)
	}
	r := e.run("sync", "--force").want(t, opscli.ExitOK)
	containsAll(t, r.stdout, "sync op-", "done", "force:", "true")
	if req := <-p.requests; !req.Force || len(req.ICCIDs) != 0 {
		t.Fatalf("forced full sync: %+v", req)
	}
	p.status.Store("failed")
	e.run("sync").want(t, opscli.ExitError)
	e.run("-o", "json", "sync", "--no-wait").want(t, opscli.ExitOK)
}

// TestSyncThroughTheRealPoller: sim-poller consumes the request, the
// provisioner carries out what it found, and simbridge prints the run.
func TestSyncThroughTheRealPoller(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bootstrap.Options{}, 3)
	e.start("provisioner")
	e.startPoller()
	var res opscli.SyncResult
	e.run("-o", "json", "sync", e.iccid(1), "--timeout", "90s").want(t, opscli.ExitOK).json(t, &res)
	if res.Status != "done" || len(res.Summary) == 0 {
		t.Fatalf("targeted sync: %+v", res)
	}
	testkit.Eventually(t, 30*time.Second, "the SIM synced is provisioned", func() error {
		if r, err := e.store.Get(context.Background(), e.iccid(1)); err != nil || !r.Active {
			return errorf("record %+v: %v", r, err)
		}
		return nil
	})
	r := e.run("sync", "--timeout", "90s").want(t, opscli.ExitOK)
	containsAll(t, r.stdout, "sync op-", "done")
	testkit.Eventually(t, 30*time.Second, "every SIM provisioned", func() error {
		var rows []opscli.ListRow
		res := e.run("-o", "json", "list", "--state", "active")
		if err := json.Unmarshal([]byte(res.stdout), &rows); err != nil || len(rows) != 3 {
			return errorf("%d active: %v", len(rows), err)
		}
		return nil
	})
}
