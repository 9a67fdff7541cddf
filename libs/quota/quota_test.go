package quota

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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

// pool is a lease table of the test's own and a way to add tasks to it.
type pool struct {
	t     *testing.T
	db    *dynamodb.Client
	table string
}

const poolQuota = 12.0

func newPool(t *testing.T) pool {
	t.Helper()
	db := dynamodb.NewFromConfig(testkit.AWSConfig(t))
	table := testkit.Name(t)
	if _, err := db.CreateTable(context.Background(), lease.TableDefinition(table)); err != nil {
		t.Fatal(err)
	}
	return pool{t: t, db: db, table: table}
}

// task joins a member to the pool with the default timings, reading the
// table through db (the pool's client when nil) and the clock at now.
func (p pool) task(member string, db DynamoDB, now func() time.Time) *Shared {
	p.t.Helper()
	if db == nil {
		db = p.db
	}
	s, err := New(db, Config{Table: p.table, Group: "iot", Member: member, Quotas: map[string]float64{"RegisterCertificate": poolQuota}})
	if err != nil {
		p.t.Fatal(err)
	}
	s.now = now
	return s
}

// busy makes s call the operation and beat.
func busy(t *testing.T, s *Shared) {
	t.Helper()
	if err := s.Wait(context.Background(), "RegisterCertificate"); err != nil {
		t.Fatal(err)
	}
	s.Beat(context.Background())
}

func shareOf(s *Shared) float64 { rps, _ := s.Share("RegisterCertificate"); return rps }

// queries records the heartbeat reads a task makes.
type queries struct {
	DynamoDB
	mu      sync.Mutex
	inputs  []*dynamodb.QueryInput
	scanned int32
}

func (q *queries) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	out, err := q.DynamoDB.Query(ctx, in, opts...)
	q.mu.Lock()
	defer q.mu.Unlock()
	q.inputs = append(q.inputs, in)
	if out != nil {
		q.scanned += out.ScannedCount
	}
	return out, err
}

// read returns what the reads since the last call evaluated (DynamoDB bills
// what it evaluates, filtered or not) and the requests made.
func (q *queries) read() (evaluated int32, inputs []*dynamodb.QueryInput) {
	q.mu.Lock()
	defer q.mu.Unlock()
	evaluated, inputs = q.scanned, q.inputs
	q.scanned, q.inputs = 0, nil
	return evaluated, inputs
}

// putSyncResults writes n results shaped like sim-poller's (a summary of
// about 1 KB, a day to live) into the lease table.
func putSyncResults(t *testing.T, p pool, n int) {
	t.Helper()
	summary := strings.Repeat(`{"listed":100000,"created":0},`, 34)
	expires := time.Now().Add(24 * time.Hour)
	for i := 0; i < n; i += 25 {
		var batch []types.WriteRequest
		for j := i; j < min(i+25, n); j++ {
			batch = append(batch, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
				"name":             &types.AttributeValueMemberS{Value: fmt.Sprintf("sync-result/datastreamer-%06d", j)},
				"status":           &types.AttributeValueMemberS{Value: "done"},
				"summary":          &types.AttributeValueMemberS{Value: summary},
				"expires_at":       &types.AttributeValueMemberN{Value: strconv.FormatInt(expires.UnixMilli(), 10)},
				lease.TTLAttribute: &types.AttributeValueMemberN{Value: strconv.FormatInt(expires.Unix(), 10)},
			}}})
		}
		if _, err := p.db.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]types.WriteRequest{p.table: batch}}); err != nil {
			t.Fatal(err)
		}
	}
}

// A heartbeat read is a Query on the heartbeat index that evaluates the
// group's heartbeats only: a day of sync results in the same table (one per
// Data Streamer batch) and the sync lease cost it nothing.
func TestHeartbeatReadDoesNotGrowWithSyncResults(t *testing.T) {
	t.Parallel()
	p := newPool(t)
	rec := &queries{DynamoDB: p.db}
	// One frozen clock: storing 2,000 results may take longer than a
	// heartbeat lives on a loaded machine, and expiry is not what is tested.
	start := time.Now()
	frozen := func() time.Time { return start }
	me := p.task("task-0", rec, frozen)
	for i := 1; i <= 3; i++ {
		busy(t, p.task(fmt.Sprintf("task-%d", i), nil, frozen))
	}
	l, err := lease.New(p.db, lease.Config{Table: p.table, Name: "sim-poller-sync", Owner: "poller", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	evaluated := func() int32 {
		busy(t, me)
		n, inputs := rec.read()
		for _, in := range inputs {
			if aws.ToString(in.IndexName) != lease.HeartbeatIndex {
				t.Fatalf("heartbeat read %+v: want a Query on the %s index", in, lease.HeartbeatIndex)
			}
		}
		if len(inputs) == 0 {
			t.Fatal("no heartbeat read")
		}
		return n
	}
	var without, with int32
	err = l.Do(context.Background(), func(context.Context) error {
		without = evaluated()
		putSyncResults(t, p, 2000)
		with = evaluated()
		if stored := countItems(t, p); stored != 2000+1+4 {
			t.Fatalf("the table holds %d items; want the 2000 results, the lease and the 4 heartbeats", stored)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if without != 4 || with != without {
		t.Fatalf("a heartbeat read evaluated %d items beside 4 heartbeats, %d after 2000 sync results were stored; want 4 both times", without, with)
	}
	if got := shareOf(me); !near(got, poolQuota/4) {
		t.Fatalf("share %v, want %v: the four busy tasks were not all counted", got, poolQuota/4)
	}
}

// countItems counts the pool's table by reading it whole.
func countItems(t *testing.T, p pool) (n int32) {
	t.Helper()
	for pages := dynamodb.NewScanPaginator(p.db, &dynamodb.ScanInput{TableName: aws.String(p.table), Select: types.SelectCount}); pages.HasMorePages(); {
		page, err := pages.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n += page.Count
	}
	return n
}

// A killed task (gone without deleting its heartbeat) keeps its share only
// until its heartbeat expires, 3 s after its last beat with the default
// timings; then the survivor takes the whole quota.
func TestAKilledTaskCountsOnlyUntilItsHeartbeatExpires(t *testing.T) {
	t.Parallel()
	p := newPool(t)
	start := time.Now()
	at := func(d time.Duration) func() time.Time { return func() time.Time { return start.Add(d) } }
	killed, survivor := p.task("host-a/7", nil, at(0)), p.task("host-b/7", nil, at(0))
	busy(t, killed)
	busy(t, survivor)
	if got := shareOf(survivor); !near(got, poolQuota/2) {
		t.Fatalf("two busy tasks: share %v, want %v", got, poolQuota/2)
	}
	// killed stops beating: no leave, no further heartbeat.
	survivor.now = at(2900 * time.Millisecond)
	busy(t, survivor)
	if got := shareOf(survivor); !near(got, poolQuota/2) {
		t.Fatalf("2.9 s after the last heartbeat of a task that may still be alive: share %v, want the safe %v", got, poolQuota/2)
	}
	survivor.now = at(3 * time.Second)
	busy(t, survivor)
	if got := shareOf(survivor); !near(got, poolQuota) {
		t.Fatalf("3 s after the killed task's last heartbeat: share %v, want the whole quota %v", got, poolQuota)
	}
}

// A task restarted under the same member name (a container restarted in
// place: same hostname, PID 1) replaces its dead predecessor's heartbeat at
// its first beat, so the others stop counting the dead one at once; the
// predecessor's late goodbye cannot remove its successor's heartbeat.
func TestARestartedTaskReplacesItsPredecessorsHeartbeat(t *testing.T) {
	t.Parallel()
	p := newPool(t)
	dead, other := p.task("ip-10-0-1-23/1", nil, time.Now), p.task("ip-10-0-9-9/1", nil, time.Now)
	busy(t, dead)
	busy(t, other)
	restarted := p.task("ip-10-0-1-23/1", nil, time.Now)
	restarted.Beat(context.Background())
	other.Beat(context.Background())
	if got := shareOf(other); !near(got, poolQuota) {
		t.Fatalf("after the restart: share %v, want the whole quota %v (the dead incarnation still counted)", got, poolQuota)
	}
	dead.leave(context.Background())
	busy(t, restarted)
	other.Beat(context.Background())
	if got := shareOf(other); !near(got, poolQuota/2) {
		t.Fatalf("the restarted task busy after its predecessor's late leave: share %v, want %v", got, poolQuota/2)
	}
}

// Two live processes that happen to share a member name (containers with
// one hostname, both PID 1) are both counted once one of them notices.
func TestTwoLiveTasksUnderOneMemberNameAreBothCounted(t *testing.T) {
	t.Parallel()
	p := newPool(t)
	a, b, c := p.task("shared-host/1", nil, time.Now), p.task("shared-host/1", nil, time.Now), p.task("other/1", nil, time.Now)
	for range 2 {
		for _, s := range []*Shared{a, b, c} {
			busy(t, s)
		}
	}
	for _, s := range []*Shared{a, b, c} {
		busy(t, s)
		if got := shareOf(s); !near(got, poolQuota/3) {
			t.Errorf("%s: share %v, want %v: three busy processes", s.key(), got, poolQuota/3)
		}
	}
}

// A busy task beats every second and its heartbeat lives 3 s; an idle one
// beats every 5 s (a fifth of the writes), its heartbeat living 15 s.
func TestIdleTasksBeatLessOften(t *testing.T) {
	t.Parallel()
	p := newPool(t)
	s := p.task("host/1", nil, time.Now)
	life := func() time.Duration {
		t.Helper()
		now := time.Now()
		s.Beat(context.Background())
		out, err := p.db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(p.table),
			Key: map[string]types.AttributeValue{"name": &types.AttributeValueMemberS{Value: s.key()}}})
		if err != nil {
			t.Fatal(err)
		}
		return millis(out.Item[attrExpires]).Sub(now).Round(time.Second)
	}
	if got, lives := s.period(time.Now()), life(); got != 5*time.Second || lives != 15*time.Second {
		t.Errorf("idle: beats every %v, heartbeat lives %v; want 5s and 15s", got, lives)
	}
	busy(t, s)
	if got, lives := s.period(time.Now()), life(); got != time.Second || lives != 3*time.Second {
		t.Errorf("busy: beats every %v, heartbeat lives %v; want 1s and 3s", got, lives)
	}
}
