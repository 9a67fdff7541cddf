// Package quota shares an AWS account's per-operation quotas (requests per
// second, per account and region) among every task that calls those
// operations, however many run: autoscaling eight provisioner tasks must not
// send eight times the quota.
//
// How: rate shares. Every task writes a heartbeat item into the lease table
// ("quota/<group>/<member>", expiring after TTL) listing the operations it
// may call and those it called recently, and reads the others'. A busy task
// limits an operation to quota ÷ (tasks that called it recently, itself
// included). A task that has been idle for an operation takes no share of
// it, so one busy task gets the whole quota and four busy tasks a quarter
// each. A task that starts calling an operation assumes at first that every
// live task able to call it is busy (the safe side), and beats at once so the
// others make room; shares then settle within a heartbeat. The brief overlap
// when tasks join is absorbed by retries of the few throttled calls.
//
// Reading the others is a Query on the lease table's sparse heartbeat index
// (lease.HeartbeatIndex, keyed by group): it reads the group's heartbeats
// and nothing else, whatever else the table holds (a day of sync results).
//
// A task that is gone stops counting as soon as that can be known:
//   - it stopped gracefully: it deleted its heartbeat on the way out;
//   - it restarted: its member name is the same (in a container the service
//     is PID 1 and the hostname is the task's), so the new incarnation's
//     first heartbeat replaces the dead one's;
//   - it was killed: its heartbeat expires. A busy task beats every
//     Heartbeat (1 s) and its heartbeat lives TTL (3 s), so a dead busy task
//     holds its share for at most 3 s; an idle one only beats every
//     IdleHeartbeat (5 s, expiring after 15 s), which costs a fifth as much
//     and delays nothing: an idle member takes no share, and a task that
//     starts calling beats at once.
//
// Each heartbeat carries its incarnation (random, per start). Overwriting
// another live incarnation's heartbeat at the first beat is a restart;
// later it means two live processes share a member name (containers with
// one hostname and PID 1, e.g. host networking): the one that notices moves
// to a name of its own, so both count.
//
// Expiry times are wall-clock times written by the holder and compared by
// the readers, so tasks' clocks must agree to well within TTL − Heartbeat
// (Amazon Time Sync keeps them within a millisecond). A heartbeat that could
// not be written keeps the task's share as it was: the others may count the
// task out after TTL and take more, and the excess is throttled and retried
// by the SDK, never lost.
//
// Why not a shared token bucket in DynamoDB: every call would cost a
// conditional write on one hot item (tens per second, contended by every
// task); shares cost one small write and one small Query per task and beat.
// Why not quota ÷ the maximum task count: one task alone would get an eighth
// of the quota, and a big batch would wait for autoscaling to catch up.
package quota

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/time/rate"

	"github.com/simbridge/simbridge/libs/lease"
)

// DynamoDB is the API subset the heartbeats use: no Scan, the lease table is
// never read whole.
type DynamoDB interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// DefaultMember names this task: host (the ECS task's) and pid. A service
// restarted in its container keeps both (PID 1), so it takes over its own
// heartbeat; two processes on one host stay two members.
func DefaultMember() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	return fmt.Sprintf("%s/%d", host, os.Getpid())
}

// Config describes one task's membership.
type Config struct {
	// Table is the lease table (lease.TableDefinition).
	Table string
	// Group names the quota pool, e.g. "iot": tasks of every service that
	// call IoT Core share one pool.
	Group string
	// Member identifies this task (host and pid).
	Member string
	// Quotas are the account-wide limits, requests per second by operation.
	Quotas map[string]float64
	// Heartbeat is how often a busy task (one that called an operation
	// within Recent) beats (default 1s); TTL how long its heartbeat counts
	// after it (default 3 heartbeats): how long a killed busy task keeps
	// its share.
	Heartbeat, TTL time.Duration
	// IdleHeartbeat is how often an idle task beats (default 5s); its
	// heartbeat counts for 3 of them.
	IdleHeartbeat time.Duration
	// Recent is how long after its last call a task still counts as
	// calling an operation (default 15s).
	Recent time.Duration
	Logger *slog.Logger
}

// Shared limits this task's calls to its share of each quota.
type Shared struct {
	db          DynamoDB
	cfg         Config
	incarnation string
	limiters    map[string]*rate.Limiter
	now         func() time.Time

	mu      sync.Mutex
	used    map[string]time.Time // operation -> last Wait
	members map[string]int       // operation -> tasks sharing it
	capable map[string]int       // operation -> live tasks able to call it
	name    string               // this task's heartbeat item
	written bool                 // a heartbeat of this incarnation was written
	kick    chan struct{}
}

// New validates cfg; call Run to take part.
func New(db DynamoDB, cfg Config) (*Shared, error) {
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = time.Second
	}
	if cfg.TTL == 0 {
		cfg.TTL = 3 * cfg.Heartbeat
	}
	if cfg.IdleHeartbeat == 0 {
		cfg.IdleHeartbeat = max(5*time.Second, cfg.Heartbeat)
	}
	if cfg.Recent == 0 {
		cfg.Recent = 15 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case db == nil || cfg.Table == "" || cfg.Group == "" || cfg.Member == "":
		return nil, errors.New("quota: client, table, group and member are required")
	case cfg.TTL <= cfg.Heartbeat:
		return nil, fmt.Errorf("quota: TTL %v must exceed the heartbeat %v", cfg.TTL, cfg.Heartbeat)
	case cfg.IdleHeartbeat < cfg.Heartbeat:
		return nil, fmt.Errorf("quota: idle heartbeat %v must not be shorter than the heartbeat %v", cfg.IdleHeartbeat, cfg.Heartbeat)
	}
	incarnation := make([]byte, 8)
	if _, err := rand.Read(incarnation); err != nil {
		return nil, fmt.Errorf("quota: incarnation: %w", err)
	}
	s := &Shared{db: db, cfg: cfg, incarnation: hex.EncodeToString(incarnation), limiters: map[string]*rate.Limiter{}, now: time.Now,
		used: map[string]time.Time{}, members: map[string]int{}, capable: map[string]int{}, kick: make(chan struct{}, 1)}
	s.name = "quota/" + cfg.Group + "/" + cfg.Member
	for op, rps := range cfg.Quotas {
		if rps <= 0 {
			return nil, fmt.Errorf("quota: %s=%v must be positive", op, rps)
		}
		s.limiters[op] = rate.NewLimiter(rate.Limit(rps), 1)
	}
	return s, nil
}

// Wait blocks until this task may call op (operations without a quota pass).
func (s *Shared) Wait(ctx context.Context, op string) error {
	l, ok := s.limiters[op]
	if !ok {
		return nil
	}
	now := s.now()
	s.mu.Lock()
	if !s.recent(op, now) {
		// Starting to call op: assume every task able to is busy until the
		// next beat says otherwise, and beat soon so the others make room.
		n := max(s.capable[op], s.members[op], 1)
		s.members[op] = n
		l.SetLimit(rate.Limit(s.cfg.Quotas[op] / float64(n)))
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	s.used[op] = now
	s.mu.Unlock()
	return l.Wait(ctx)
}

// Share is this task's current limit for op and how many tasks share it.
func (s *Shared) Share(op string) (perSecond float64, tasks int) {
	l, ok := s.limiters[op]
	if !ok {
		return 0, 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return float64(l.Limit()), max(s.members[op], 1)
}

// Operations lists the operations with a quota.
func (s *Shared) Operations() []string { return slices.Sorted(maps.Keys(s.limiters)) }

// Run takes part until ctx ends, beating every Heartbeat while busy and
// every IdleHeartbeat while idle (call Beat once before serving, so the
// first calls already keep to the share); on the way out it removes its
// item, so the others take over its share at their next heartbeat.
func (s *Shared) Run(ctx context.Context) {
	t := time.NewTimer(s.period(s.now()))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.leave(context.WithoutCancel(ctx))
			return
		case <-t.C:
			s.Beat(ctx)
		case <-s.kick:
			s.Beat(ctx)
		}
		t.Reset(s.period(s.now()))
	}
}

// period is the time to the next beat: short while busy, since a killed
// busy task holds its share until its heartbeat expires.
func (s *Shared) period(now time.Time) time.Duration {
	if s.busy(now) {
		return s.cfg.Heartbeat
	}
	return s.cfg.IdleHeartbeat
}

// Beat publishes this task's recent operations and recomputes its shares.
// A failed beat keeps the current shares (logged): they are never raised
// blindly.
func (s *Shared) Beat(ctx context.Context) {
	now := s.now()
	if err := s.publish(ctx, now); err != nil {
		s.cfg.Logger.Warn("quota heartbeat not written; shares unchanged", "error", err)
		return
	}
	counts, capable, err := s.count(ctx, now)
	if err != nil {
		s.cfg.Logger.Warn("quota members not read; shares unchanged", "error", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.capable = capable
	for op, l := range s.limiters {
		n := counts[op]
		if !s.recent(op, now) {
			n++ // idle here: the others count without us; we would be one more
		}
		s.members[op] = max(n, 1)
		l.SetLimit(rate.Limit(s.cfg.Quotas[op] / float64(max(n, 1))))
	}
}

// recent reports whether op was used within Recent; s.mu is held.
func (s *Shared) recent(op string, now time.Time) bool {
	at, ok := s.used[op]
	return ok && now.Sub(at) < s.cfg.Recent
}

// busy reports whether any operation was used within Recent.
func (s *Shared) busy(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for op := range s.limiters {
		if s.recent(op, now) {
			return true
		}
	}
	return false
}

// Attributes of a heartbeat item in the lease table.
const (
	attrName        = "name"
	attrExpires     = "expires_at" // Unix milliseconds
	attrOps         = "ops"        // operations called recently
	attrCan         = "can"        // operations the member may call
	attrIncarnation = "incarnation"
)

// reapAfter is how long a heartbeat stays expired before a reader deletes
// it (DynamoDB's own TTL may take days), so dead tasks' items do not pile up
// in the group a Query reads; maxReaps bounds the deletes of one beat.
const (
	reapAfter = time.Minute
	maxReaps  = 5
)

func (s *Shared) group() string { return "quota/" + s.cfg.Group }

// key is this task's heartbeat item.
func (s *Shared) key() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.name
}

func (s *Shared) publish(ctx context.Context, now time.Time) error {
	s.mu.Lock()
	var ops []string
	for op := range s.limiters {
		if s.recent(op, now) {
			ops = append(ops, op)
		}
	}
	s.mu.Unlock()
	life := s.cfg.TTL
	if len(ops) == 0 {
		life = 3 * s.cfg.IdleHeartbeat
	}
	expires := now.Add(life)
	item := map[string]types.AttributeValue{
		attrName:                      &types.AttributeValueMemberS{Value: s.key()},
		lease.HeartbeatGroupAttribute: &types.AttributeValueMemberS{Value: s.group()},
		attrIncarnation:               &types.AttributeValueMemberS{Value: s.incarnation},
		attrExpires:                   &types.AttributeValueMemberN{Value: strconv.FormatInt(expires.UnixMilli(), 10)},
		lease.TTLAttribute:            &types.AttributeValueMemberN{Value: strconv.FormatInt(expires.Add(reapAfter).Unix(), 10)},
	}
	if len(ops) > 0 {
		item[attrOps] = &types.AttributeValueMemberSS{Value: ops}
	}
	if can := s.Operations(); len(can) > 0 {
		item[attrCan] = &types.AttributeValueMemberSS{Value: can}
	}
	out, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.cfg.Table), Item: item, ReturnValues: types.ReturnValueAllOld})
	if err != nil {
		return err
	}
	if moved, from := s.replaced(out.Attributes, now); moved {
		s.remove(ctx, from) // so the other keeps the shared name
	}
	return nil
}

// replaced looks at the heartbeat this beat overwrote. Another incarnation's
// live heartbeat under this member name is, at the first beat, the one of
// this task before it restarted: replacing it is the point. Later it can
// only be another live process using the same member name (two containers
// sharing a hostname and PID 1, e.g. host networking): this task moves to a
// name of its own (and reports the name it left), so both are counted.
func (s *Shared) replaced(old map[string]types.AttributeValue, now time.Time) (moved bool, from string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	first := !s.written
	s.written = true
	if old == nil || str(old[attrIncarnation]) == s.incarnation || !now.Before(millis(old[attrExpires])) {
		return false, ""
	}
	if first {
		s.cfg.Logger.Info("quota heartbeat of this member's previous incarnation replaced", "member", s.cfg.Member)
		return false, ""
	}
	from = s.name
	s.name = "quota/" + s.cfg.Group + "/" + s.cfg.Member + "#" + s.incarnation
	s.written = false
	s.cfg.Logger.Warn("another live task beats under this quota member name; this one moves to a name of its own (give tasks distinct hostnames)",
		"member", s.cfg.Member, "heartbeat", s.name)
	return true, from
}

// count reads the group's heartbeats and counts by operation the live
// members that called it recently and those able to, this task included
// from its own state (the index is eventually consistent: it may not show
// this beat's write yet). Heartbeats expired for longer than reapAfter are
// deleted on the way.
func (s *Shared) count(ctx context.Context, now time.Time) (busy, capable map[string]int, err error) {
	busy, capable = map[string]int{}, map[string]int{}
	var dead []map[string]types.AttributeValue
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(s.cfg.Table),
		IndexName:                 aws.String(lease.HeartbeatIndex),
		KeyConditionExpression:    aws.String("#g = :g"),
		ExpressionAttributeNames:  map[string]string{"#g": lease.HeartbeatGroupAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{":g": &types.AttributeValueMemberS{Value: s.group()}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, nil, err
		}
		for _, it := range page.Items {
			expires := millis(it[attrExpires])
			switch {
			case !now.Before(expires):
				if now.Sub(expires) > reapAfter && it[attrExpires] != nil {
					dead = append(dead, it)
				}
				continue
			case str(it[attrIncarnation]) == s.incarnation:
				continue // this task: counted below
			}
			tally(busy, it[attrOps])
			tally(capable, it[attrCan])
		}
	}
	s.mu.Lock()
	for op := range s.limiters {
		if s.recent(op, now) {
			busy[op]++
		}
		capable[op]++
	}
	s.mu.Unlock()
	s.reap(ctx, dead)
	return busy, capable, nil
}

// reap deletes heartbeats of tasks gone without leaving, unless they were
// rewritten since they were read.
func (s *Shared) reap(ctx context.Context, dead []map[string]types.AttributeValue) {
	for _, it := range dead[:min(len(dead), maxReaps)] {
		_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName:                 aws.String(s.cfg.Table),
			Key:                       map[string]types.AttributeValue{attrName: it[attrName]},
			ConditionExpression:       aws.String("#e = :e"),
			ExpressionAttributeNames:  map[string]string{"#e": attrExpires},
			ExpressionAttributeValues: map[string]types.AttributeValue{":e": it[attrExpires]},
		})
		var ccf *types.ConditionalCheckFailedException
		if err != nil && !errors.As(err, &ccf) {
			s.cfg.Logger.Debug("expired quota heartbeat not deleted; its TTL removes it", "name", str(it[attrName]), "error", err)
		}
	}
}

// leave deletes this incarnation's heartbeat.
func (s *Shared) leave(ctx context.Context) { s.remove(ctx, s.key()) }

// remove deletes the heartbeat name if this incarnation wrote it last (never
// a successor's under the same member name).
func (s *Shared) remove(ctx context.Context, name string) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.cfg.Table),
		Key:                       map[string]types.AttributeValue{attrName: &types.AttributeValueMemberS{Value: name}},
		ConditionExpression:       aws.String("#i = :i"),
		ExpressionAttributeNames:  map[string]string{"#i": attrIncarnation},
		ExpressionAttributeValues: map[string]types.AttributeValue{":i": &types.AttributeValueMemberS{Value: s.incarnation}},
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		s.cfg.Logger.Warn("quota membership not removed; it expires by itself", "error", err)
	}
}

func tally(counts map[string]int, v types.AttributeValue) {
	if ops, ok := v.(*types.AttributeValueMemberSS); ok {
		for _, op := range ops.Value {
			counts[op]++
		}
	}
}

func str(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// millis reads a Unix-milliseconds attribute; a missing or bad one is long expired.
func millis(v types.AttributeValue) time.Time {
	n, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		return time.Time{}
	}
	ms, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
