package adapters

import (
	"context"
	"time"

	"github.com/simbridge/simbridge/libs/onceapi"
)

// SIMGetter reads one SIM from 1NCE (onceapi.Client.GetSIM).
type SIMGetter interface {
	GetSIM(ctx context.Context, iccid string) (onceapi.SIM, error)
}

// DirectLookups asks 1NCE once per call (app.Lookups without sharing).
type DirectLookups struct {
	SIMs SIMGetter
}

// Lookup asks now, which is never earlier than notBefore.
func (l DirectLookups) Lookup(ctx context.Context, iccid string, _ time.Time) (onceapi.SIM, error) {
	return l.SIMs.GetSIM(ctx, iccid)
}
