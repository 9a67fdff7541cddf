package lease_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/simbridge/simbridge/libs/lease"
	"github.com/simbridge/simbridge/libs/testkit"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

// table creates a lease table of the test's own.
func table(t *testing.T) (*dynamodb.Client, string) {
	t.Helper()
	db := dynamodb.NewFromConfig(testkit.AWSConfig(t))
	name := testkit.Name(t)
	if _, err := db.CreateTable(context.Background(), lease.TableDefinition(name)); err != nil {
		t.Fatalf("create table: %v", err)
	}
	return db, name
}

func newLease(t *testing.T, db lease.DynamoDB, tbl, owner string, ttl time.Duration) *lease.Lease {
	t.Helper()
	l, err := lease.New(db, lease.Config{Table: tbl, Name: "sync", Owner: owner, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestOnlyOneHolderRunsAtATime(t *testing.T) {
	t.Parallel()
	db, tbl := table(t)
	a, b := newLease(t, db, tbl, "replica-a", 3*time.Second), newLease(t, db, tbl, "replica-b", 3*time.Second)
	ctx := context.Background()
	ranB := false
	err := a.Do(ctx, func(context.Context) error {
		err := b.Do(ctx, func(context.Context) error { ranB = true; return nil })
		if !errors.Is(err, lease.ErrHeld) || !strings.Contains(err.Error(), "replica-a") {
			t.Errorf("second holder: err = %v, want ErrHeld naming replica-a", err)
		}
		return nil
	})
	if err != nil || ranB {
		t.Fatalf("first holder: %v; second ran: %v", err, ranB)
	}
	if err := b.Do(ctx, func(context.Context) error { ranB = true; return nil }); err != nil || !ranB {
		t.Fatalf("after release the lease is free at once: %v", err)
	}
}

func TestJobErrorIsReturnedAndLeaseReleased(t *testing.T) {
	t.Parallel()
	db, tbl := table(t)
	l := newLease(t, db, tbl, "replica-a", 3*time.Second)
	boom := errors.New("boom")
	if err := l.Do(context.Background(), func(context.Context) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the job's error", err)
	}
	if err := l.Do(context.Background(), func(context.Context) error { return nil }); err != nil {
		t.Fatalf("lease not released after a failed job: %v", err)
	}
}

func TestExpiredLeaseOfACrashedHolderIsTakenOver(t *testing.T) {
	t.Parallel()
	db, tbl := table(t)
	past := time.Now().Add(-time.Second).UnixMilli()
	_, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(tbl), Item: map[string]types.AttributeValue{
		"name": &types.AttributeValueMemberS{Value: "sync"}, "owner": &types.AttributeValueMemberS{Value: "crashed"},
		"token": &types.AttributeValueMemberS{Value: "t"}, "expires_at": &types.AttributeValueMemberN{Value: itoa(past)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	ran := false
	if err := newLease(t, db, tbl, "replica-b", time.Second).Do(context.Background(), func(context.Context) error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("expired lease not taken over: %v", err)
	}
}

func TestRenewalKeepsTheLeaseBeyondItsTTL(t *testing.T) {
	t.Parallel()
	db, tbl := table(t)
	a, b := newLease(t, db, tbl, "replica-a", 600*time.Millisecond), newLease(t, db, tbl, "replica-b", 600*time.Millisecond)
	err := a.Do(context.Background(), func(ctx context.Context) error {
		for range 4 {
			time.Sleep(400 * time.Millisecond)
			if err := b.Do(ctx, func(context.Context) error { return nil }); !errors.Is(err, lease.ErrHeld) {
				t.Errorf("while held past its TTL the lease was free to another holder (%v)", err)
			}
		}
		return ctx.Err()
	})
	if err != nil {
		t.Fatalf("holder: %v", err)
	}
}

func TestLostLeaseCancelsTheJob(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// break makes renewal fail while the job runs.
		breakRenewal func(t *testing.T, db *dynamodb.Client, tbl string, flaky *flakyDB)
	}{
		{name: "taken over by another holder", breakRenewal: func(t *testing.T, db *dynamodb.Client, tbl string, _ *flakyDB) {
			_, err := db.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
				TableName: aws.String(tbl), Key: map[string]types.AttributeValue{"name": &types.AttributeValueMemberS{Value: "sync"}},
				UpdateExpression:          aws.String("SET #tok = :t"),
				ExpressionAttributeNames:  map[string]string{"#tok": "token"},
				ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberS{Value: "intruder"}},
			})
			if err != nil {
				t.Error(err)
			}
		}},
		{name: "DynamoDB unreachable", breakRenewal: func(_ *testing.T, _ *dynamodb.Client, _ string, flaky *flakyDB) {
			flaky.failUpdates.Store(true)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db, tbl := table(t)
			flaky := &flakyDB{Client: db}
			ttl := 900 * time.Millisecond
			l, err := lease.New(flaky, lease.Config{Table: tbl, Name: "sync", Owner: "replica-a", TTL: ttl})
			if err != nil {
				t.Fatal(err)
			}
			var stoppedAfter time.Duration
			err = l.Do(context.Background(), func(ctx context.Context) error {
				start := time.Now()
				tc.breakRenewal(t, db, tbl, flaky)
				select {
				case <-ctx.Done():
					stoppedAfter = time.Since(start)
					return context.Cause(ctx)
				case <-time.After(5 * time.Second):
					return errors.New("job kept running without its lease")
				}
			})
			if !errors.Is(err, lease.ErrLost) {
				t.Fatalf("err = %v, want ErrLost", err)
			}
			if stoppedAfter >= ttl {
				t.Errorf("job stopped %v after renewal broke, not before the TTL %v ran out", stoppedAfter, ttl)
			}
		})
	}
}

func TestNewRejectsUnsafeSettings(t *testing.T) {
	t.Parallel()
	db := &flakyDB{}
	tests := []struct {
		name string
		cfg  lease.Config
	}{
		{"no table", lease.Config{Name: "n", Owner: "o"}},
		{"no owner", lease.Config{Table: "t", Name: "n"}},
		{"tiny TTL", lease.Config{Table: "t", Name: "n", Owner: "o", TTL: time.Millisecond}},
		{"renewal too rare to notice a loss", lease.Config{Table: "t", Name: "n", Owner: "o", TTL: time.Second, RenewEvery: 600 * time.Millisecond}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := lease.New(db, tc.cfg); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

// flakyDB fails renewals on demand, as when DynamoDB is unreachable.
type flakyDB struct {
	*dynamodb.Client
	failUpdates atomic.Bool
}

func (f *flakyDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if f.failUpdates.Load() {
		return nil, errors.New("connection refused")
	}
	return f.Client.UpdateItem(ctx, in, opts...)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
