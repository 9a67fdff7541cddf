package adapters_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/services/sim-poller/internal/adapters"
	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
	"github.com/simbridge/simbridge/services/sim-poller/internal/domain"
)

// fakeClient serves pages of SIMs and one SIM by ICCID, or err.
type fakeClient struct {
	pages [][]onceapi.SIM
	one   map[string]onceapi.SIM
	err   error
}

func (f fakeClient) ListSIMs(_ context.Context, fn func([]onceapi.SIM) error) (onceapi.ListStats, error) {
	var stats onceapi.ListStats
	for _, p := range f.pages {
		stats.Pages++
		if err := fn(p); err != nil {
			return stats, err
		}
	}
	return stats, f.err
}

func (f fakeClient) GetSIM(_ context.Context, iccid string) (onceapi.SIM, error) {
	if f.err != nil {
		return onceapi.SIM{}, f.err
	}
	s, ok := f.one[iccid]
	if !ok {
		return onceapi.SIM{}, fmt.Errorf("%w: %s", onceapi.ErrSIMNotFound, iccid)
	}
	return s, nil
}

// wire is a SIM as 1NCE sends it, with fields the rules never read.
var wire = onceapi.SIM{ICCID: "8988280666000000001", ICCIDWithLuhn: "89882806660000000012", IMSI: "901405100000001",
	MSISDN: "882285100000001", IMEI: "350000000000001", Status: onceapi.StatusEnabled, IPAddress: "10.0.0.1", Label: "pump 7", CurrentQuota: 5}

// seen is what the rules get of it.
var seen = domain.RemoteSIM{ICCID: wire.ICCID, IP: wire.IPAddress, Status: domain.StatusEnabled, IMSI: wire.IMSI, MSISDN: wire.MSISDN, Label: wire.Label}

func TestOnceInventoryListsWhatTheRulesRead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		client    fakeClient
		wantSIMs  []domain.RemoteSIM
		wantPages int
		wantErr   error
	}{
		{name: "every page in order", client: fakeClient{pages: [][]onceapi.SIM{{wire}, {{ICCID: "8988280666000000002", Status: onceapi.StatusDisabled}}}},
			wantSIMs: []domain.RemoteSIM{seen, {ICCID: "8988280666000000002", Status: domain.StatusDisabled}}, wantPages: 2},
		{name: "an incomplete listing keeps the client's error and what it saw", client: fakeClient{pages: [][]onceapi.SIM{{wire}}, err: onceapi.ErrIncomplete},
			wantSIMs: []domain.RemoteSIM{seen}, wantPages: 1, wantErr: onceapi.ErrIncomplete},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []domain.RemoteSIM
			pages, err := adapters.OnceInventory{Client: tc.client}.ListSIMs(context.Background(), func(p []domain.RemoteSIM) error {
				got = append(got, p...)
				return nil
			})
			if fmt.Sprint(got) != fmt.Sprint(tc.wantSIMs) || pages != tc.wantPages || !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %+v, %d pages, %v; want %+v, %d, %v", got, pages, err, tc.wantSIMs, tc.wantPages, tc.wantErr)
			}
		})
	}
}

func TestOnceInventoryGetsOneSIM(t *testing.T) {
	t.Parallel()
	down := errors.New("status 503")
	tests := []struct {
		name    string
		client  fakeClient
		want    domain.RemoteSIM
		wantErr error
	}{
		{name: "a SIM the account holds", client: fakeClient{one: map[string]onceapi.SIM{wire.ICCID: wire}}, want: seen},
		{name: "404 is proof the SIM left", client: fakeClient{}, wantErr: app.ErrSIMNotFound},
		{name: "any other failure is no proof", client: fakeClient{err: down}, wantErr: down},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := adapters.OnceInventory{Client: tc.client}.GetSIM(context.Background(), wire.ICCID)
			if got != tc.want || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("got %+v, %v; want %+v, %v", got, err, tc.want, tc.wantErr)
			}
			if errors.Is(err, down) && errors.Is(err, app.ErrSIMNotFound) {
				t.Fatal("a failed question must not read as a SIM that left")
			}
		})
	}
}
