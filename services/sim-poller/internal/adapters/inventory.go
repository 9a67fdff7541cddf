package adapters

import (
	"context"
	"errors"
	"fmt"

	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
	"github.com/simbridge/simbridge/services/sim-poller/internal/domain"
)

// OnceClient is the 1NCE Management API client (onceapi.Client).
type OnceClient interface {
	ListSIMs(ctx context.Context, fn func(page []onceapi.SIM) error) (onceapi.ListStats, error)
	GetSIM(ctx context.Context, iccid string) (onceapi.SIM, error)
}

// OnceInventory is the 1NCE account as the use cases read it (app.Inventory):
// the one place where the API's wire type becomes the SIM the rules see.
// The client's paging checks, retries and rate limit stay in libs/onceapi.
type OnceInventory struct {
	Client OnceClient
}

// ListSIMs lists the account page by page. Its error wraps the client's
// (onceapi.ErrIncomplete, ErrBadCredentials, ErrInvalidResponse), which the
// metrics tell apart.
func (o OnceInventory) ListSIMs(ctx context.Context, fn func(page []domain.RemoteSIM) error) (int, error) {
	stats, err := o.Client.ListSIMs(ctx, func(page []onceapi.SIM) error {
		sims := make([]domain.RemoteSIM, len(page))
		for i, s := range page {
			sims[i] = remoteSIM(s)
		}
		return fn(sims)
	})
	return stats.Pages, err
}

// GetSIM reads one SIM; a 404 is app.ErrSIMNotFound.
func (o OnceInventory) GetSIM(ctx context.Context, iccid string) (domain.RemoteSIM, error) {
	s, err := o.Client.GetSIM(ctx, iccid)
	switch {
	case errors.Is(err, onceapi.ErrSIMNotFound):
		return domain.RemoteSIM{}, fmt.Errorf("%w: %s", app.ErrSIMNotFound, iccid)
	case err != nil:
		return domain.RemoteSIM{}, err
	}
	return remoteSIM(s), nil
}

// remoteSIM keeps what the rules read and the attributes the Thing carries.
func remoteSIM(s onceapi.SIM) domain.RemoteSIM {
	return domain.RemoteSIM{ICCID: s.ICCID, IP: s.IPAddress, Status: s.Status, IMSI: s.IMSI, MSISDN: s.MSISDN, Label: s.Label}
}
