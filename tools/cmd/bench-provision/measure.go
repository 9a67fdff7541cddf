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

	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/tools/devstack"
)

// emulatorQuotas lifts the account-wide IoT quotas: the emulator has none,
// and the point of these runs is to measure the system, not the quota.
const emulatorQuotas = "IOT_QUOTAS=CreateKeysAndCertificate=10000,RegisterCertificate=10000,AttachPolicy=10000,CreateThing=10000," +
	"DescribeThing=10000,AddThingToThingGroup=10000,AttachThingPrincipal=10000,UpdateCertificate=10000,DescribeCertificate=10000,DetachThingPrincipal=10000"

// provisioned is the provisioner's counter of successful creates.
const provisioned = `simbridge_provisioner_commands_total{kind="create",result="success"}`

// run1 is one end-to-end run.
type run1 struct {
	bin, logDir   string
	sims, workers int
	authority     string
}

// measure starts a fresh stack, syncs once and waits until every SIM's
// record is active with credentials; it returns SIMs per second and prints
// what one SIM cost in AWS calls. Progress is followed on the provisioner's
// /metrics rather than by scanning the table: moto scans about 1,200 items a
// second, so polling 2,000 records would take a core away from the system
// measured. One scan at the end confirms every record is active.
func measure(ctx context.Context, r run1, out io.Writer) (float64, error) {
	m := &countingProxy{}
	defer m.stop()
	stack, err := devstack.Start(ctx, devstack.Options{
		BinDir: r.bin, LogDir: r.logDir, SIMs: r.sims, ICCIDPrefix: "89882806660", IPPattern: "10.0.x.x", IPStart: 1, SyncInterval: time.Hour,
		FastSQS: true,
		Env: map[string][]string{
			"sim-poller":  {"SYNC_ON_START=false", "LOG_LEVEL=warn"},
			"provisioner": {fmt.Sprintf("WORKERS=%d", r.workers), emulatorQuotas, "LOG_LEVEL=warn", "CERT_AUTHORITY=" + r.authority},
		},
		BeforeServices: m.inFrontOfProvisioner,
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
	m.reset()
	start := time.Now()
	if _, err := stack.Sync(ctx); err != nil {
		return 0, fmt.Errorf("sync: %w", err)
	}
	synced := time.Since(start)
	if err := waitProvisioned(ctx, "http://"+stack.Procs["provisioner"].OpsAddr+"/metrics", store, r.sims); err != nil {
		return 0, err
	}
	took := time.Since(start)
	rate := float64(r.sims) / took.Seconds()
	fmt.Fprintf(out, "authority=%s workers=%d sims=%d seconds=%.1f sims_per_s=%.1f (sync published in %.1f s)\n",
		r.authority, r.workers, r.sims, took.Seconds(), rate, synced.Seconds())
	fmt.Fprintf(out, "  AWS calls per SIM (authority=%s): %s\n", r.authority, m.perSIM(r.sims))
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
	err := store.Scan(ctx, func(s simrec.Summary) error {
		if s.Active {
			n++
		}
		return nil
	})
	return n, err
}

// countingProxy sits between the provisioner and the emulator to count its
// calls by operation (and, in the quota run, to enforce the quota).
type countingProxy struct {
	*testkit.FaultProxy
	close func()
	// quotas, when set, are enforced as AWS does.
	quotas map[string]float64
	base   map[string]int
}

// inFrontOfProvisioner starts the proxy and points the provisioner at it
// (devstack.Options.BeforeServices).
func (c *countingProxy) inFrontOfProvisioner(s *devstack.Stack) error {
	p, stop, err := testkit.StartFaultProxy(s.AWSEndpoint(), 1)
	if err != nil {
		return err
	}
	c.FaultProxy, c.close = p, stop
	if c.quotas != nil {
		p.SetQuotas(c.quotas)
	}
	s.Opts.Env["provisioner"] = append(s.Opts.Env["provisioner"], "AWS_ENDPOINT_URL="+p.URL)
	return nil
}

func (c *countingProxy) stop() {
	if c.close != nil {
		c.close()
	}
}

// reset forgets the calls made so far (the services' start).
func (c *countingProxy) reset() {
	c.base, _ = c.Counts()
}

// perSIM renders the calls made since reset, per SIM, by AWS service.
func (c *countingProxy) perSIM(sims int) string {
	now, _ := c.Counts()
	byService := map[string]float64{}
	for op, n := range now {
		byService[serviceOf(op)] += float64(n-c.base[op]) / float64(sims)
	}
	var parts []string
	total := 0.0
	for _, svc := range []string{"IoT", "DynamoDB", "KMS", "SNS", "IoT Data"} {
		if v := byService[svc]; v > 0.005 {
			parts = append(parts, fmt.Sprintf("%s %.1f", svc, v))
			total += v
		}
	}
	return fmt.Sprintf("%.1f (%s)", total, strings.Join(parts, ", "))
}

// serviceOf names the AWS service of a counted operation; SQS (served by
// sqsstub, not through the proxy) and others are "other".
func serviceOf(op string) string {
	switch {
	case testkit.IsIoTOperation(op):
		return "IoT"
	case strings.HasPrefix(op, "DynamoDB_"):
		return "DynamoDB"
	case strings.HasPrefix(op, "TrentService."):
		return "KMS"
	case op == "Publish":
		return "SNS"
	case strings.HasPrefix(op, "POST /topics/"):
		return "IoT Data"
	default:
		return "other"
	}
}
