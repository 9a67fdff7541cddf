package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/simbridge/simbridge/libs/events"
)

// Sync requests arrive through sim-poller's request queue (operators'
// `simbridge sync`, Data Streamer hints). A request without ICCIDs is a
// full sync, run exactly as a scheduled one; with ICCIDs it is a targeted
// sync of those SIMs (SyncSIMs). When it ends, its Result is stored under
// events.SyncResultKey(id) for the requester.
//
// A full-sync request that finds a run in progress (the schedule, POST
// /sync, another replica) waits for it to end and then runs: the requester
// asked for a run that starts after the request, and one that started
// before may have listed 1NCE before the change the operator is after.

// Result statuses (events.SyncResultKey).
const (
	ResultDone   = "done"
	ResultFailed = "failed"
)

// Result is how a sync request ended.
type Result struct {
	Status string
	// Summary is the run's Summary (full sync) or TargetSummary.
	Summary    any
	FinishedAt time.Time
	// Err is the run's error, when it failed.
	Err error
}

// Results stores the result of each request for its requester.
type Results interface {
	Put(ctx context.Context, id string, r Result) error
}

// FullSyncer runs one full sync (Syncer.Sync, measured and bounded), or
// its dry run (Syncer.Plan).
type FullSyncer interface {
	Sync(ctx context.Context, force bool) (Summary, error)
	Plan(ctx context.Context) (Summary, error)
}

// TargetSyncer runs one targeted sync (Syncer.SyncSIMs), or its dry run
// (Syncer.PlanSIMs).
type TargetSyncer interface {
	SyncSIMs(ctx context.Context, iccids []string, notBefore time.Time) (TargetSummary, error)
	PlanSIMs(ctx context.Context, iccids []string, notBefore time.Time) (TargetSummary, error)
}

// defaultWait is how long a full-sync request waits for a run in progress
// when no limit is configured.
const defaultWait = 30 * time.Minute

// ErrRetry marks a request that did not end: it is to be delivered again
// (the run was interrupted, 1NCE could not answer for some SIMs, a run in
// progress did not end in time, the result could not be stored).
var ErrRetry = errors.New("sync request not finished")

// Requests handles sync requests.
type Requests struct {
	Full    FullSyncer
	Targets TargetSyncer
	Results Results
	// Wait bounds how long a full-sync request waits for a run in progress.
	Wait time.Duration
	// Triage, when set, sifts Data Streamer hints before their lookups.
	Triage *Triage
	// Clock is the time requests read and wait on (SystemClock).
	Clock Clock
}

// NewRequests wires the use case.
func NewRequests(full FullSyncer, targets TargetSyncer, results Results, wait time.Duration) (*Requests, error) {
	if full == nil || targets == nil || results == nil {
		return nil, errors.New("sync requests: syncers and result store are required")
	}
	if wait <= 0 {
		wait = defaultWait
	}
	return &Requests{Full: full, Targets: targets, Results: results, Wait: wait, Clock: SystemClock{}}, nil
}

// Run handles req, made no earlier than notBefore, and returns how it
// ended. An error wrapping ErrRetry means it did not end (the Result then
// says how far it got); otherwise the caller records the Result.
func (r *Requests) Run(ctx context.Context, req events.SyncRequest, notBefore time.Time) (Result, error) {
	if req.DryRun && len(req.ICCIDs) > 0 {
		// An operator's lookup: answered as it is, failed lookups included
		// (each SIM's outcome says), since its requester is waiting.
		sum, err := r.Targets.PlanSIMs(ctx, req.ICCIDs, notBefore)
		if ctx.Err() != nil {
			return r.result(sum, err), fmt.Errorf("%w: %w", ErrRetry, context.Cause(ctx))
		}
		return r.result(sum, err), nil
	}
	if len(req.ICCIDs) > 0 {
		sum, err := r.targeted(ctx, req, notBefore)
		res := r.result(sum, err)
		if err != nil {
			return res, fmt.Errorf("%w: %w", ErrRetry, err)
		}
		return res, nil
	}
	sum, err := r.fullAfterRunInProgress(ctx, req.Force, req.DryRun)
	res := r.result(sum, err)
	switch {
	case errors.Is(err, ErrRunInProgress) && ctx.Err() == nil:
		res.Err = fmt.Errorf("a sync run was still in progress after waiting %v: %w", r.Wait, err)
		res.Summary = Summary{Error: res.Err.Error(), Published: map[string]int{}}
		return res, nil
	case ctx.Err() != nil:
		return res, fmt.Errorf("%w: %w", ErrRetry, context.Cause(ctx))
	}
	return res, nil
}

// targeted runs a targeted sync of req's SIMs, Data Streamer hints sifted
// first (Triage).
func (r *Requests) targeted(ctx context.Context, req events.SyncRequest, notBefore time.Time) (TargetSummary, error) {
	if r.Triage == nil || req.Source != events.SourceDataStreamer {
		return r.Targets.SyncSIMs(ctx, req.ICCIDs, notBefore)
	}
	start := r.Clock.Now()
	iccids, dropped := r.Triage.Sift(ctx, req)
	triaged := r.Clock.Now().Sub(start).Seconds()
	sum := TargetSummary{StartedAt: r.Clock.Now().UTC(), Published: map[string]int{}}
	var err error
	if len(iccids) > 0 {
		sum, err = r.Targets.SyncSIMs(ctx, iccids, notBefore)
		r.Triage.Learn(sum)
	}
	if len(dropped) > 0 {
		sum.Dropped = dropped
	}
	sum.TriageSeconds = triaged
	return sum, err
}

// Record stores res as the result of request id.
func (r *Requests) Record(ctx context.Context, id string, res Result) error {
	if res.FinishedAt.IsZero() {
		res.FinishedAt = r.Clock.Now().UTC()
	}
	if err := r.Results.Put(ctx, id, res); err != nil {
		return fmt.Errorf("%w: store result of request %s: %w", ErrRetry, id, err)
	}
	return nil
}

// GiveUp is the result of a request given up on with cause (malformed,
// or failed as often as the queue allows): failed, with the last summary.
func GiveUp(last Result, cause error) Result {
	last.Status, last.Err, last.FinishedAt = ResultFailed, cause, time.Time{}
	if last.Summary == nil {
		last.Summary = map[string]string{"error": cause.Error()}
	}
	return last
}

// fullAfterRunInProgress runs a full sync, first waiting (with backoff, up
// to Wait) while another run is in progress.
func (r *Requests) fullAfterRunInProgress(ctx context.Context, force, dry bool) (Summary, error) {
	type outcome struct {
		sum Summary
		err error
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = 500*time.Millisecond, 10*time.Second
	o, err := retry(ctx, r.Clock, b, r.Wait, func() (outcome, error) {
		run := r.Full.Sync
		if dry {
			run = func(ctx context.Context, _ bool) (Summary, error) { return r.Full.Plan(ctx) }
		}
		sum, err := run(ctx, force)
		if errors.Is(err, ErrRunInProgress) {
			return outcome{}, err
		}
		return outcome{sum, err}, nil
	})
	if err != nil {
		return Summary{}, err
	}
	return o.sum, o.err
}

// result is the Result of a run that ended with sum and err.
func (r *Requests) result(sum any, err error) Result {
	res := Result{Status: ResultDone, Summary: sum, FinishedAt: r.Clock.Now().UTC(), Err: err}
	if err != nil {
		res.Status = ResultFailed
	}
	return res
}
