package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/tools/devstack"
)

// quotaRun is several provisioner tasks against an account-wide quota.
type quotaRun struct {
	bin, logDir string
	sims, tasks int
	quota       float64
}

// quotaResult is what the quota run measured.
type quotaResult struct {
	quota    float64
	tasks    int
	achieved float64
	dlq      int
}

// awsDefaultQuotas are AWS IoT Core's default quotas of the operations a new
// SIM costs; the run lowers RegisterCertificate, the bottleneck, to -quota.
var awsDefaultQuotas = map[string]float64{
	"DescribeThing": 350, "CreateThing": 100, "AddThingToThingGroup": 100, "RegisterCertificate": 10,
	"AttachThingPrincipal": 100, "AttachPolicy": 15, "UpdateCertificate": 10, "DescribeCertificate": 10,
}

// measureQuota runs tasks provisioner processes, each configured with the
// account-wide quotas, behind a proxy that throttles above them as AWS does;
// it measures the RegisterCertificate rate achieved between 10 % and 90 % of
// the SIMs and how many commands ended in the DLQ.
func measureQuota(ctx context.Context, r quotaRun, out io.Writer) (quotaResult, error) {
	quotas := map[string]float64{}
	for op, q := range awsDefaultQuotas {
		quotas[op] = q
	}
	quotas["RegisterCertificate"] = r.quota
	m := &countingProxy{quotas: quotas}
	defer m.stop()
	stack, err := devstack.Start(ctx, devstack.Options{
		BinDir: r.bin, LogDir: r.logDir, SIMs: r.sims, ICCIDPrefix: "89882806660", IPPattern: "10.0.x.x", IPStart: 1, SyncInterval: time.Hour,
		FastSQS: true,
		Env: map[string][]string{
			"sim-poller":  {"SYNC_ON_START=false", "LOG_LEVEL=warn"},
			"provisioner": {"WORKERS=8", "LOG_LEVEL=warn", quotaVar(quotas)},
		},
		BeforeServices: m.inFrontOfProvisioner,
	})
	if err != nil {
		return quotaResult{}, err
	}
	defer stack.Stop()
	for i := 2; i <= r.tasks; i++ {
		if _, err := stack.StartReplica(ctx, "provisioner", fmt.Sprintf("provisioner-%d", i)); err != nil {
			return quotaResult{}, err
		}
	}
	m.reset()
	if _, err := stack.Sync(ctx); err != nil {
		return quotaResult{}, fmt.Errorf("sync: %w", err)
	}
	registered := func() int {
		req, thr := m.Counts()
		return req["RegisterCertificate"] - thr["RegisterCertificate"] - m.base["RegisterCertificate"]
	}
	var t10, t90 time.Time
	var n10, n90 int
	deadline := time.Now().Add(time.Duration(float64(r.sims)/r.quota*3)*time.Second + 2*time.Minute)
	for n := registered(); n < r.sims; n = registered() {
		switch {
		case t10.IsZero() && n >= r.sims/10:
			t10, n10 = time.Now(), n
		case t90.IsZero() && n >= r.sims*9/10:
			t90, n90 = time.Now(), n
		}
		if time.Now().After(deadline) {
			return quotaResult{}, fmt.Errorf("quota run: %d of %d SIMs registered by the deadline", n, r.sims)
		}
		select {
		case <-ctx.Done():
			return quotaResult{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	if t90.IsZero() {
		t90, n90 = time.Now(), registered()
	}
	res := quotaResult{quota: r.quota, tasks: r.tasks, achieved: float64(n90-n10) / t90.Sub(t10).Seconds()}
	time.Sleep(5 * time.Second) // the last SIMs finish their remaining steps
	if res.dlq, err = dlqDepth(ctx, stack); err != nil {
		return res, err
	}
	req, thr := m.Counts()
	calls, throttled := 0, 0
	for op := range quotas {
		calls += req[op] - m.base[op]
		throttled += thr[op]
	}
	fmt.Fprintf(out, "quota run: %d provisioner tasks, %d SIMs, account-wide RegisterCertificate quota %g/s enforced in front of moto: "+
		"achieved %.2f/s (10-90 %%), %d of %d IoT calls throttled (%.1f %%), %d in the DLQ\n",
		r.tasks, r.sims, r.quota, res.achieved, throttled, calls, 100*float64(throttled)/float64(max(calls, 1)), res.dlq)
	return res, nil
}

func quotaVar(q map[string]float64) string {
	var parts []string
	for op, rps := range q {
		parts = append(parts, fmt.Sprintf("%s=%g", op, rps))
	}
	sort.Strings(parts)
	return "IOT_QUOTAS=" + strings.Join(parts, ",")
}

// dlqDepth counts the messages in the create queue's DLQ.
func dlqDepth(ctx context.Context, stack *devstack.Stack) (int, error) {
	cfg, err := testkit.LoadAWSConfig(ctx, stack.SQSEndpoint())
	if err != nil {
		return 0, err
	}
	out, err := sqs.NewFromConfig(cfg).GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(stack.Resources.CreateDLQURL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil {
		return 0, fmt.Errorf("DLQ depth: %w", err)
	}
	var n int
	_, err = fmt.Sscan(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)], &n)
	return n, err
}
