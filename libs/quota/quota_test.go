package quota

import (
	"context"
	"fmt"
	"math"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/simbridge/simbridge/libs/lease"
	"github.com/simbridge/simbridge/libs/testkit"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

func near(got, want float64) bool { return math.Abs(got-want) < 1e-6 }

// However many tasks share an operation, their shares add up to the quota:
// busy tasks split it, an idle task takes nothing until it starts, and then
// assumes the worst until the next beat; a task that leaves gives its share
// back at the others' next beat.
func TestSharesAddUpToTheQuota(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dynamodb.NewFromConfig(testkit.AWSConfig(t))
	table := testkit.Name(t)
	if _, err := db.CreateTable(ctx, lease.TableDefinition(table)); err != nil {
		t.Fatal(err)
	}
	const q = 12.0
	newTask := func(i int) *Shared {
		s, err := New(db, Config{Table: table, Group: "iot", Member: fmt.Sprintf("task-%d", i), Quotas: map[string]float64{"RegisterCertificate": q}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	share := func(s *Shared) float64 { rps, _ := s.Share("RegisterCertificate"); return rps }
	beatAll := func(tasks ...*Shared) {
		for range 2 { // the second round sees every first-round write
			for _, s := range tasks {
				s.Beat(ctx)
			}
		}
	}
	use := func(s *Shared) {
		if err := s.Wait(ctx, "RegisterCertificate"); err != nil {
			t.Fatal(err)
		}
	}

	a := newTask(1)
	beatAll(a)
	use(a)
	beatAll(a)
	if !near(share(a), q) {
		t.Fatalf("one busy task: share %v, want the whole quota %v", share(a), q)
	}
	tasks := []*Shared{a, newTask(2), newTask(3), newTask(4)}
	beatAll(tasks...)
	if got := share(tasks[3]); !near(got, q/2) {
		t.Fatalf("an idle task while one is busy: share %v, want %v", got, q/2)
	}
	use(tasks[3]) // starts calling: assumes all four able tasks are busy
	if got := share(tasks[3]); !near(got, q/4) {
		t.Fatalf("a task that starts calling: share %v, want the safe %v", got, q/4)
	}
	for _, s := range tasks {
		use(s)
	}
	beatAll(tasks...)
	total := 0.0
	for _, s := range tasks {
		total += share(s)
	}
	if !near(total, q) || !near(share(a), q/4) {
		t.Fatalf("four busy tasks: shares add up to %v, want %v", total, q)
	}
	tasks[3].leave(ctx)
	beatAll(tasks[:3]...)
	if !near(share(a), q/3) {
		t.Fatalf("after a task left: share %v, want %v", share(a), q/3)
	}
	// Idle for longer than the TTL: the others take over.
	for _, s := range tasks[1:3] {
		s.now = func() time.Time { return time.Now().Add(time.Minute) }
	}
	a.now = func() time.Time { return time.Now().Add(time.Minute) }
	use(a)
	beatAll(tasks[:3]...)
	if !near(share(a), q) {
		t.Fatalf("the only task still calling: share %v, want %v", share(a), q)
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]Config{
		"no table":     {Group: "g", Member: "m"},
		"zero quota":   {Table: "t", Group: "g", Member: "m", Quotas: map[string]float64{"X": 0}},
		"ttl too tiny": {Table: "t", Group: "g", Member: "m", Heartbeat: time.Second, TTL: time.Second},
	} {
		if _, err := New(&dynamodb.Client{}, cfg); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}
