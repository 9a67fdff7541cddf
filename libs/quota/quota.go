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
// Why not a shared token bucket in DynamoDB: every call would cost a
// conditional write on one hot item (tens per second, contended by every
// task); shares cost one write and one small scan per task every few seconds.
// Why not quota ÷ the maximum task count: one task alone would get an eighth
// of the quota, and a big batch would wait for autoscaling to catch up.
package quota

import (
	"context"
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
)

// DynamoDB is the API subset the heartbeats use.
type DynamoDB interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// DefaultMember names this task: host (the ECS task's) and pid.
func DefaultMember() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	return fmt.Sprintf("%s/%d", host, os.Getpid())
}

// Config describes one task's membership.
type Config struct {
	// Table is the lease table (key attribute "name").
	Table string
	// Group names the quota pool, e.g. "iot": tasks of every service that
	// call IoT Core share one pool.
	Group string
	// Member identifies this task (host and pid).
	Member string
	// Quotas are the account-wide limits, requests per second by operation.
	Quotas map[string]float64
	// Heartbeat is how often shares are recomputed (default 5s); TTL how
	// long a silent member still counts (default 3 heartbeats).
	Heartbeat, TTL time.Duration
	Logger         *slog.Logger
}

// Shared limits this task's calls to its share of each quota.
type Shared struct {
	db       DynamoDB
	cfg      Config
	limiters map[string]*rate.Limiter
	now      func() time.Time

	mu      sync.Mutex
	used    map[string]time.Time // operation -> last Wait
	members map[string]int       // operation -> tasks sharing it
	capable map[string]int       // operation -> live tasks able to call it
	kick    chan struct{}
}

// New validates cfg; call Run to take part.
func New(db DynamoDB, cfg Config) (*Shared, error) {
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = 5 * time.Second
	}
	if cfg.TTL == 0 {
		cfg.TTL = 3 * cfg.Heartbeat
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case db == nil || cfg.Table == "" || cfg.Group == "" || cfg.Member == "":
		return nil, errors.New("quota: client, table, group and member are required")
	case cfg.TTL <= cfg.Heartbeat:
		return nil, fmt.Errorf("quota: TTL %v must exceed the heartbeat %v", cfg.TTL, cfg.Heartbeat)
	}
	s := &Shared{db: db, cfg: cfg, limiters: map[string]*rate.Limiter{}, now: time.Now,
		used: map[string]time.Time{}, members: map[string]int{}, capable: map[string]int{}, kick: make(chan struct{}, 1)}
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

// Run takes part until ctx ends, beating every Heartbeat (call Beat once
// before serving, so the first calls already keep to the share); on the way
// out it removes its item, so the others take over its share at their next
// heartbeat.
func (s *Shared) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Heartbeat)
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
	}
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

// recent reports whether op was used within the TTL; s.mu is held.
func (s *Shared) recent(op string, now time.Time) bool {
	at, ok := s.used[op]
	return ok && now.Sub(at) < s.cfg.TTL
}

// Key attributes of a membership item in the lease table.
const (
	attrName    = "name"
	attrExpires = "expires_at" // Unix milliseconds
	attrOps     = "ops"        // operations called recently
	attrCan     = "can"        // operations the member may call
)

func (s *Shared) key() string { return "quota/" + s.cfg.Group + "/" + s.cfg.Member }

func (s *Shared) publish(ctx context.Context, now time.Time) error {
	s.mu.Lock()
	var ops []string
	for op := range s.limiters {
		if s.recent(op, now) {
			ops = append(ops, op)
		}
	}
	s.mu.Unlock()
	item := map[string]types.AttributeValue{
		attrName:    &types.AttributeValueMemberS{Value: s.key()},
		attrExpires: &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(s.cfg.TTL).UnixMilli(), 10)},
	}
	if len(ops) > 0 {
		item[attrOps] = &types.AttributeValueMemberSS{Value: ops}
	}
	if can := s.Operations(); len(can) > 0 {
		item[attrCan] = &types.AttributeValueMemberSS{Value: can}
	}
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.cfg.Table), Item: item})
	return err
}

// count reads every live member of the group, this task included, and
// counts by operation those that called it recently and those able to.
func (s *Shared) count(ctx context.Context, now time.Time) (busy, capable map[string]int, err error) {
	counts, can := map[string]int{}, map[string]int{}
	p := dynamodb.NewScanPaginator(s.db, &dynamodb.ScanInput{
		TableName:                 aws.String(s.cfg.Table),
		FilterExpression:          aws.String("begins_with(#n, :p) AND #e > :now"),
		ExpressionAttributeNames:  map[string]string{"#n": attrName, "#e": attrExpires},
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "quota/" + s.cfg.Group + "/"}, ":now": &types.AttributeValueMemberN{Value: strconv.FormatInt(now.UnixMilli(), 10)}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, nil, err
		}
		for _, it := range page.Items {
			if ops, ok := it[attrOps].(*types.AttributeValueMemberSS); ok {
				for _, op := range ops.Value {
					counts[op]++
				}
			}
			if ops, ok := it[attrCan].(*types.AttributeValueMemberSS); ok {
				for _, op := range ops.Value {
					can[op]++
				}
			}
		}
	}
	return counts, can, nil
}

func (s *Shared) leave(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.cfg.Table),
		Key: map[string]types.AttributeValue{attrName: &types.AttributeValueMemberS{Value: s.key()}}})
	if err != nil {
		s.cfg.Logger.Warn("quota membership not removed; it expires by itself", "error", err)
	}
}
