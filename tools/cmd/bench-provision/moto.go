package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/simbridge/simbridge/libs/testkit"
)

// motoCeiling measures how many CreateKeysAndCertificate calls a second a
// fresh moto answers with clients concurrent callers. Every SIM needs one
// and moto generates an RSA key for it in Python, so no provisioning on
// the emulator can be faster, whatever the system around it does.
func motoCeiling(ctx context.Context, logDir string, clients int, d time.Duration) (float64, error) {
	logf, err := os.Create(filepath.Join(logDir, "moto-ceiling.log"))
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	m, err := testkit.StartMoto(ctx, logf)
	if err != nil {
		return 0, fmt.Errorf("moto: %w", err)
	}
	defer m.Stop()
	cfg, err := testkit.LoadAWSConfig(ctx, m.Endpoint)
	if err != nil {
		return 0, err
	}
	c := iot.NewFromConfig(cfg)
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var calls atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, clients)
	start := time.Now()
	for i := range clients {
		wg.Go(func() {
			for ctx.Err() == nil {
				_, err := c.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{})
				if err != nil && ctx.Err() == nil {
					errs[i] = err
					return
				}
				if err == nil {
					calls.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, fmt.Errorf("CreateKeysAndCertificate on moto: %w", err)
	}
	return float64(calls.Load()) / time.Since(start).Seconds(), nil
}
