package simrec

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/simbridge/simbridge/libs/steps"
)

// Steps of the claim protocol, named in failure notifications, metrics and
// the record's last failure like the use cases' own steps.
const (
	StepLoad  = "load record"
	StepClaim = "claim record"
)

// ErrBusy means another command still holds the SIM's claim: the attempt
// fails and the queue brings the command back.
var ErrBusy = fmt.Errorf("%w: another command is changing this SIM", steps.ErrTransient)

// ClaimTiming bounds how long a command holds or waits for a SIM's claim.
type ClaimTiming struct {
	// TTL is how long a claim keeps other commands off a SIM whose claimant
	// died; a live claimant finishes well within it.
	TTL time.Duration
	// Wait is how long a command waits for another's claim to end before
	// its attempt fails (and the queue brings it back).
	Wait time.Duration
	// Poll is the interval between looks at a claimed record.
	Poll time.Duration
}

// DefaultClaimTiming suits AWS: a step retried through throttling takes
// seconds.
var DefaultClaimTiming = ClaimTiming{TTL: 2 * time.Minute, Wait: 20 * time.Second, Poll: 500 * time.Millisecond}

// WithTTL is the timing with another claim TTL (the services' CLAIM_TTL).
func (t ClaimTiming) WithTTL(ttl time.Duration) ClaimTiming {
	t.TTL = ttl
	return t
}

// Clock tells the time and waits. Claims expire and are waited for on it,
// so tests move time on instead of sleeping.
type Clock interface {
	Now() time.Time
	// Sleep waits d, or until ctx ends (returning its error).
	Sleep(ctx context.Context, d time.Duration) error
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now is time.Now.
func (SystemClock) Now() time.Time { return time.Now() }

// Sleep waits d or until ctx ends.
func (SystemClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ClaimStore is what the claim protocol needs from a store of records.
type ClaimStore interface {
	Get(ctx context.Context, iccid string) (Record, error)
	Update(ctx context.Context, r Record) (Record, error)
	ClearFailure(ctx context.Context, iccid, command string) error
}

// Claims is the protocol by which one command at a time changes a SIM's
// certificates, shared by every service that does: a command claims the
// record with a conditional write naming it (LastCommand, ClaimedBy); other
// commands wait until the claim ends or expires; a record that changed
// under a command is read again. Which commands may claim at all is
// Record.Admits.
type Claims struct {
	store  ClaimStore
	timing ClaimTiming
	clock  Clock
}

// NewClaims returns the protocol on store; a nil clock is the wall clock.
func NewClaims(store ClaimStore, t ClaimTiming, clock Clock) (*Claims, error) {
	if store == nil {
		return nil, errors.New("claims: a store is required")
	}
	if t.TTL <= 0 || t.Poll <= 0 || t.Wait < 0 {
		return nil, fmt.Errorf("claims: timing %+v: positive TTL and poll interval required", t)
	}
	if clock == nil {
		clock = SystemClock{}
	}
	return &Claims{store: store, timing: t, clock: clock}, nil
}

// maxRounds bounds how often a command re-reads a record that changed under
// it before the attempt fails and the queue brings it back.
const maxRounds = 4

// Do runs one attempt of a command: attempt reads the record, claims it and
// works, and is run again (up to maxRounds) when a conditional write found
// the record changed (ErrConflict). The whole attempt must end within three
// quarters of the claim TTL, so a live claimant never outlives its claim.
func (c *Claims) Do(ctx context.Context, attempt func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.timing.TTL-c.timing.TTL/4)
	defer cancel()
	var err error
	for range maxRounds {
		if err = attempt(ctx); !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return err
}

// Await reads the SIM's record for command cmd, waiting while another
// command holds an unexpired claim on it. ErrNotFound comes back unwrapped
// by a step: a missing record is for the caller to decide on.
func (c *Claims) Await(ctx context.Context, iccid, cmd string) (Record, error) {
	deadline := c.clock.Now().Add(c.timing.Wait)
	for {
		rec, err := c.store.Get(ctx, iccid)
		if errors.Is(err, ErrNotFound) {
			return rec, err
		}
		if err != nil {
			return rec, steps.Wrap(StepLoad, err)
		}
		if !rec.Claimed(cmd, c.clock.Now()) {
			return rec, nil
		}
		if !c.clock.Now().Before(deadline) {
			return rec, steps.Wrap(StepClaim, fmt.Errorf("%w: %s until %s", ErrBusy, rec.ClaimedBy, rec.ClaimedUntil.Format("15:04:05")))
		}
		if err := c.clock.Sleep(ctx, c.timing.Poll); err != nil {
			return rec, steps.Wrap(StepClaim, err)
		}
	}
}

// Claim makes cmd the claimant of rec (in memory), for the claim TTL from
// now: for a record about to be created.
func (c *Claims) Claim(rec *Record, cmd string) {
	rec.LastCommand, rec.ClaimedBy, rec.ClaimedUntil = cmd, cmd, c.clock.Now().Add(c.timing.TTL)
}

// Take claims rec for cmd with a conditional write and returns the record
// as stored.
func (c *Claims) Take(ctx context.Context, rec Record, cmd string) (Record, error) {
	c.Claim(&rec, cmd)
	stored, err := c.store.Update(ctx, rec)
	if err != nil {
		return rec, steps.Wrap(StepClaim, err)
	}
	return stored, nil
}

// Forget clears the failure an earlier attempt of cmd recorded on rec, for
// an attempt that finds nothing left to do (the command is stale or carried
// out already): the record must not show a failure that no longer holds.
func (c *Claims) Forget(ctx context.Context, rec Record, cmd string) error {
	if rec.LastFailure == nil || rec.LastFailure.Command != cmd {
		return nil
	}
	return c.store.ClearFailure(ctx, rec.ICCID, cmd)
}

// Release ends the claim of a command that carried out its work: the claim
// and the last failure go (in memory; the caller's write stores it).
func (r *Record) Release() {
	r.ClaimedBy, r.ClaimedUntil, r.LastFailure = "", time.Time{}, nil
}

// Settled reports whether nothing is left over from an interrupted attempt:
// no certificate being issued, none still to retire, no claim.
func (r Record) Settled() bool {
	return r.Next == nil && len(r.Retiring) == 0 && r.ClaimedBy == ""
}
