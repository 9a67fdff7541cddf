// Package lease keeps a job from running on two replicas at once: one
// DynamoDB item per lease name, taken with a conditional write, renewed while
// the job runs and deleted when it ends. An in-process mutex cannot do this
// once a service runs as several tasks (rolling deploys, autoscaling).
//
// Expiry times are wall-clock times written by the holder and compared by the
// next taker, so replicas' clocks must agree to well within the renewal
// margin (TTL minus two renewal periods; NTP keeps them within milliseconds).
package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Errors callers branch on.
var (
	// ErrHeld means another owner holds an unexpired lease; the job did not run.
	ErrHeld = errors.New("lease held by another owner")
	// ErrLost means the lease could not be renewed while the job ran; the
	// job's context was cancelled so it stops before another owner can start.
	ErrLost = errors.New("lease lost")
)

// DynamoDB is the API subset a lease uses.
type DynamoDB interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Config names and times a lease.
type Config struct {
	// Table is the lease table (TableDefinition).
	Table string
	// Name identifies what the lease protects, e.g. "sim-poller-sync".
	Name string
	// Owner says who holds it, for operators and error messages (host, task id).
	Owner string
	// TTL is how long a holder that stops renewing (crash, partition) blocks
	// others; default 30s.
	TTL time.Duration
	// RenewEvery is the renewal period; default TTL/3. A holder gives the lease
	// up when two renewals in a row fail, before the TTL runs out.
	RenewEvery time.Duration
	// Logger receives failures that do not change the job's outcome (a failed
	// release just lets the lease expire); nil discards them.
	Logger *slog.Logger
}

// Lease runs jobs under one lease item.
type Lease struct {
	db  DynamoDB
	cfg Config
	now func() time.Time
}

// New validates cfg and returns a lease.
func New(db DynamoDB, cfg Config) (*Lease, error) {
	if cfg.TTL == 0 {
		cfg.TTL = 30 * time.Second
	}
	if cfg.RenewEvery == 0 {
		cfg.RenewEvery = cfg.TTL / 3
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case db == nil || cfg.Table == "" || cfg.Name == "" || cfg.Owner == "":
		return nil, errors.New("lease: client, table, name and owner are required")
	case cfg.TTL < 100*time.Millisecond:
		return nil, fmt.Errorf("lease: TTL %v: at least 100ms", cfg.TTL)
	case cfg.RenewEvery <= 0 || 2*cfg.RenewEvery >= cfg.TTL:
		return nil, fmt.Errorf("lease: renewal period %v must be positive and under half the TTL %v", cfg.RenewEvery, cfg.TTL)
	}
	return &Lease{db: db, cfg: cfg, now: time.Now}, nil
}

// errFinished ends the renewal loop when the job returns.
var errFinished = errors.New("job finished")

// Do runs fn while holding the lease: ErrHeld without calling fn when another
// owner holds it; otherwise fn's error, joined with ErrLost when the lease was
// lost while fn ran (fn's context is then cancelled with ErrLost as cause).
// The lease is released when fn returns.
func (l *Lease) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	token, acquired, err := l.acquire(ctx)
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancelCause(ctx)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		l.keep(runCtx, token, acquired, stop)
	}()
	err = fn(runCtx)
	stop(errFinished)
	<-renewed
	if cause := context.Cause(runCtx); errors.Is(cause, ErrLost) {
		if !errors.Is(err, ErrLost) {
			err = errors.Join(err, cause)
		}
		return err
	}
	l.release(context.WithoutCancel(ctx), token)
	return err
}

// keep renews the lease every RenewEvery until ctx ends. It cancels the job
// when the lease was taken over, or when it could not be renewed by the
// give-up time: the last expiry written minus RenewEvery, which leaves the
// job that long to stop before anyone else may take the lease.
func (l *Lease) keep(ctx context.Context, token string, written time.Time, stop context.CancelCauseFunc) {
	t := time.NewTicker(l.cfg.RenewEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		giveUp := written.Add(l.cfg.TTL - l.cfg.RenewEvery)
		sent := l.now()
		err := l.renew(ctx, token, sent, giveUp)
		switch {
		case err == nil:
			written = sent
		case ctx.Err() != nil:
			return
		case errors.Is(err, errNotOwner):
			stop(fmt.Errorf("%w: %s was taken over", ErrLost, l.cfg.Name))
			return
		case !l.now().Before(giveUp):
			stop(fmt.Errorf("%w: %s not renewed since %s: %w", ErrLost, l.cfg.Name, written.UTC().Format(time.RFC3339), err))
			return
		}
	}
}
