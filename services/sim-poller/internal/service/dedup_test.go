package service_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
)

// TestResentChangesAreDroppedAndLaterChangesAreNot runs the poller against
// SQS FIFO queues nobody consumes, so every command stays within the
// 5-minute deduplication window: a run repeated before the consumer acted
// re-sends identical commands, which SQS drops; a SIM disabled, enabled and
// disabled again is a series of real changes, none of which may be dropped.
func TestResentChangesAreDroppedAndLaterChangesAreNot(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1)
	p := e.poller(t, nil)
	sim := e.sim.Inventory().List()[0]
	type step struct {
		name string
		// before changes 1NCE and the store, as the provisioner or
		// deactivator would have, before the poller runs twice.
		before      func(t *testing.T)
		wantCreates int
		wantDisable int
	}
	var rec simrec.Record
	steps := []step{
		{name: "new SIM: the repeated create is dropped", wantCreates: 1,
			before: func(t *testing.T) {}},
		{name: "provisioned, then disabled in 1NCE: the repeated disable is dropped", wantCreates: 1, wantDisable: 1,
			before: func(t *testing.T) {
				rec = create(t, e.store, simrec.Record{ICCID: sim.ICCID, IP: sim.IPAddress, Active: true, Status: onceapi.StatusEnabled})
				setStatus(t, e, sim.ICCID, onceapi.StatusDisabled)
			}},
		{name: "deactivated, then enabled again: the same create as before is a new change", wantCreates: 2, wantDisable: 1,
			before: func(t *testing.T) {
				rec.Active = false
				rec = update(t, e.store, rec)
				setStatus(t, e, sim.ICCID, onceapi.StatusEnabled)
			}},
		{name: "reactivated, then disabled again: the same disable as before is a new change", wantCreates: 2, wantDisable: 2,
			before: func(t *testing.T) {
				rec.Active = true
				rec = update(t, e.store, rec)
				setStatus(t, e, sim.ICCID, onceapi.StatusDisabled)
			}},
	}
	for _, s := range steps {
		s.before(t)
		for range 2 {
			if _, err := p.Syncer.Sync(context.Background(), false); err != nil {
				t.Fatalf("%s: sync: %v", s.name, err)
			}
		}
		if got := queued(t, e, e.res.CreateQueueURL); got != s.wantCreates {
			t.Errorf("%s: create queue holds %d commands, want %d", s.name, got, s.wantCreates)
		}
		if got := queued(t, e, e.res.DisableQueueURL); got != s.wantDisable {
			t.Errorf("%s: disable queue holds %d commands, want %d", s.name, got, s.wantDisable)
		}
	}
}

// queued counts the messages waiting in a queue without receiving them.
func queued(t *testing.T, e *env, url string) int {
	t.Helper()
	out, err := sqs.NewFromConfig(e.aws).GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages},
	})
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func create(t *testing.T, s *simstore.Dynamo, r simrec.Record) simrec.Record {
	t.Helper()
	r, err := s.Create(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func update(t *testing.T, s *simstore.Dynamo, r simrec.Record) simrec.Record {
	t.Helper()
	r, err := s.Update(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func setStatus(t *testing.T, e *env, iccid, status string) {
	t.Helper()
	if err := e.sim.Inventory().SetStatus(iccid, status); err != nil {
		t.Fatal(err)
	}
}
