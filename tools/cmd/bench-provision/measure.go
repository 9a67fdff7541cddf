package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/tools/devstack"
)

// emulatorLimits lifts the client-side AWS quotas: the emulator has none,
// and the point is to measure the system, not the quota.
const emulatorLimits = "IOT_RATE_LIMITS=CreateKeysAndCertificate=10000,AttachPolicy=10000,CreateThing=10000,AttachThingPrincipal=10000,UpdateCertificate=10000,DeleteCertificate=10000"

// provisioned is the provisioner's counter of successful creates.
const provisioned = `simbridge_provisioner_commands_total{kind="create",result="success"}`

// measure starts a fresh stack, syncs once and waits until every SIM's
// record is active with credentials; it returns SIMs per second. Progress
// is followed on the provisioner's /metrics rather than by scanning the
// table: moto scans about 1,200 items a second, so polling 2,000 records
// would take a core away from the system measured. One scan at the end
// confirms every record is active.
func measure(ctx context.Context, bin, logDir string, n, workers int, out io.Writer) (float64, error) {
	stack, err := devstack.Start(ctx, devstack.Options{
		BinDir: bin, LogDir: logDir, SIMs: n, ICCIDPrefix: "89882806660", IPPattern: "10.0.x.x", IPStart: 1, SyncInterval: time.Hour,
		FastSQS: true,
		Env: map[string][]string{
			"sim-poller":  {"SYNC_ON_START=false", "LOG_LEVEL=warn"},
			"provisioner": {fmt.Sprintf("WORKERS=%d", workers), emulatorLimits, "LOG_LEVEL=warn"},
		},
	})
	if err != nil {
		return 0, err
	}
	defer stack.Stop()
	cfg, err := testkit.LoadAWSConfig(ctx, stack.AWSEndpoint())
	if err != nil {
		return 0, err
	}
	store := simstore.NewDynamo(dynamodb.NewFromConfig(cfg), stack.Resources.Table())
	start := time.Now()
	if _, err := stack.Sync(ctx); err != nil {
		return 0, fmt.Errorf("sync: %w", err)
	}
	synced := time.Since(start)
	if err := waitProvisioned(ctx, "http://"+stack.Procs["provisioner"].OpsAddr+"/metrics", store, n); err != nil {
		return 0, err
	}
	took := time.Since(start)
	rate := float64(n) / took.Seconds()
	fmt.Fprintf(out, "workers=%d sims=%d seconds=%.1f sims_per_s=%.1f (sync published in %.1f s)\n", workers, n, took.Seconds(), rate, synced.Seconds())
	return rate, nil
}

// waitProvisioned waits until the provisioner counted n successful creates
// and the table holds n active records.
func waitProvisioned(ctx context.Context, metricsURL string, store *simstore.Dynamo, n int) error {
	for {
		done, err := counter(ctx, metricsURL, provisioned)
		if err != nil {
			return err
		}
		if done >= n {
			active, err := onboardable(ctx, store)
			if err != nil {
				return fmt.Errorf("scan: %w", err)
			}
			if active >= n {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// counter reads one series' value from a Prometheus text exposition (0
// while the series does not exist yet).
func counter(ctx context.Context, url, series string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return int(f), err
		}
	}
	return 0, sc.Err()
}

func onboardable(ctx context.Context, store *simstore.Dynamo) (int, error) {
	n := 0
	err := store.Scan(ctx, func(s simstore.Summary) error {
		if s.Active {
			n++
		}
		return nil
	})
	return n, err
}
