package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/oncesim"
	"github.com/simbridge/simbridge/tools/devstack"
)

// bench holds what the phases share.
type bench struct {
	s        settings
	tableDir string
	stack    *devstack.Stack
	db       *dynamodb.Client
	store    *simstore.Dynamo
	table    string
	admin    *oncesim.AdminClient
	// known are the SIMs the table holds, fresh the ones the full sync
	// finds new: every sims/added-th SIM of the listing, so creates are
	// decided on the first pages already.
	known, fresh []onceapi.SIM
}

func newBench(ctx context.Context, s settings, stack *devstack.Stack, dynamoEndpoint, tableDir string) (*bench, error) {
	cfg, err := testkit.LoadAWSConfig(ctx, stack.AWSEndpoint())
	if err != nil {
		return nil, err
	}
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(dynamoEndpoint) })
	table := stack.Resources.Table()
	return &bench{s: s, tableDir: tableDir, stack: stack, db: db, store: simstore.NewDynamo(db, table), table: table,
		admin: oncesim.NewAdminClient(stack.OnceAdminURL, &http.Client{Timeout: 30 * time.Second})}, nil
}

// syncResult is what the full sync phase measured.
type syncResult struct {
	seconds, firstCommand, bytesPerSIM float64
}

// runSummary is the part of POST /sync's answer (app.Summary) read here.
type runSummary struct {
	DurationSeconds     float64        `json:"duration_seconds"`
	FirstCommandSeconds float64        `json:"first_command_seconds"`
	Listed              int            `json:"listed"`
	Published           map[string]int `json:"published"`
	StoreActive         int            `json:"store_active"`
	Complete            bool           `json:"listing_complete"`
}

// fullSync runs one reconciliation through POST /sync, reads its figures,
// and waits until the new SIMs it created are onboardable records.
func (b *bench) fullSync(ctx context.Context, out io.Writer) (syncResult, error) {
	body, err := b.stack.Sync(ctx)
	if err != nil {
		return syncResult{}, err
	}
	var sum runSummary
	if err := json.Unmarshal([]byte(body), &sum); err != nil {
		return syncResult{}, fmt.Errorf("POST /sync answered %q: %w", body, err)
	}
	if !sum.Complete || sum.Listed != b.s.sims || sum.Published["create"] != b.s.added {
		return syncResult{}, fmt.Errorf("the full sync listed %d SIMs (complete %v) and created %d, want %d and %d: %s",
			sum.Listed, sum.Complete, sum.Published["create"], b.s.sims, b.s.added, body)
	}
	m, err := b.pollerMetrics(ctx)
	if err != nil {
		return syncResult{}, err
	}
	units, items := m["simbridge_sim_poller_store_read_units_total"], m["simbridge_sim_poller_store_read_items_total"]
	if items < float64(b.s.sims-b.s.added) {
		return syncResult{}, fmt.Errorf("sim-poller read %g summaries from the table, which holds %d", items, b.s.sims-b.s.added)
	}
	r := syncResult{seconds: sum.DurationSeconds, firstCommand: sum.FirstCommandSeconds, bytesPerSIM: units * 8192 / items}
	fmt.Fprintf(out, "full sync: %d SIMs listed in %.1f s, first command after %.2f s, %d created, %.0f read units for %.0f summaries (%.1f bytes a SIM), sim-poller peak RSS %.1f MB\n",
		sum.Listed, r.seconds, r.firstCommand, sum.Published["create"], units, items, r.bytesPerSIM, b.stack.Procs["sim-poller"].PeakRSSMB())
	start := time.Now()
	if err := b.waitActive(ctx, b.fresh, 5*time.Minute); err != nil {
		return syncResult{}, err
	}
	fmt.Fprintf(out, "the %d new SIMs were provisioned %.0f s after the sync answered\n", b.s.added, time.Since(start).Seconds())
	return r, nil
}

// waitActive polls the records of sims until every one is active.
func (b *bench) waitActive(ctx context.Context, sims []onceapi.SIM, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	pending := sims
	for len(pending) > 0 {
		var still []onceapi.SIM
		for _, sim := range pending {
			rec, err := b.store.Get(ctx, sim.ICCID)
			if err != nil || rec.CurrentState() != simrec.StateActive {
				still = append(still, sim)
			}
		}
		pending = still
		if len(pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d SIMs still not provisioned after %v (first %s)", len(pending), limit, pending[0].ICCID)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
	return nil
}

// pollerMetrics reads sim-poller's unlabelled series and the sums of the
// labelled ones (name{…} adds to name).
func (b *bench) pollerMetrics(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+b.stack.Procs["sim-poller"].OpsAddr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("sim-poller metrics: %w", err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		series, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		out[series] += v
		if name, _, labelled := strings.Cut(series, "{"); labelled {
			out[name] += v
		}
	}
	return out, sc.Err()
}

// pollerPeakRSSMB is sim-poller's resident high-water mark so far.
func (b *bench) pollerPeakRSSMB() (float64, error) {
	if v := b.stack.Procs["sim-poller"].PeakRSSMB(); v > 0 {
		return v, nil
	}
	return 0, fmt.Errorf("could not read sim-poller's peak RSS")
}
