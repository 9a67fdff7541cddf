package adapters

import (
	"context"
	"errors"
	"fmt"

	"github.com/simbridge/simbridge/libs/lease"
	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
)

// Lease adapts the DynamoDB lease to the use case: a lease held by another
// replica is a run in progress (POST /sync answers 409, the schedule skips).
type Lease struct {
	Lease *lease.Lease
}

// Do runs fn under the lease.
func (l Lease) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	err := l.Lease.Do(ctx, fn)
	if errors.Is(err, lease.ErrHeld) {
		return fmt.Errorf("%w on another replica: %w", app.ErrRunInProgress, err)
	}
	return err
}
