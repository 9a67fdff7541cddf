package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/tools/device"
	"github.com/simbridge/simbridge/tools/devstack"
)

// liftedQuotas lifts the account-wide IoT quotas for the enrolment phase:
// the emulator has none, and the phase measures the system, not the quota.
// In AWS, RegisterCertificate's quota (10/s by default, IOT_QUOTAS) bounds
// an account's enrolments per second.
const liftedQuotas = "IOT_QUOTAS=RegisterCertificate=10000,AttachPolicy=10000,CreateThing=10000,DescribeThing=10000," +
	"AddThingToThingGroup=10000,AttachThingPrincipal=10000,UpdateCertificate=10000,DescribeCertificate=10000,DetachThingPrincipal=10000"

// enrolResult is the enrolment phase's figures.
type enrolResult struct {
	devices, errors, pending int
	wall, p50, p99, max      time.Duration
}

func (r enrolResult) perSecond() float64 { return float64(r.devices-r.errors) / r.wall.Seconds() }

// enrolPhase runs the whole system (devstack: moto, the in-memory SQS, the
// five services) in key mode device with o.enrolDevices SIMs on 127.3.x.x,
// waits until every SIM's record is active (its Thing made, waiting for its
// device), then has every device enrol through the gateway from its own
// address — a P-256 key made beforehand, o.enrolWorkers at a time — and
// measures each enrolment from its first POST to the 200 (a 202 is asked
// again, as a device does).
func enrolPhase(ctx context.Context, o options, out io.Writer) (enrolResult, error) {
	stack, err := devstack.Start(ctx, devstack.Options{
		BinDir: o.bin, LogDir: filepath.Join(o.logDir, "enrolment"), SIMs: o.enrolDevices, ICCIDPrefix: "89882806661",
		IPPattern: "127.3.x.x", IPStart: 1, SyncInterval: time.Hour, FastSQS: true, NoDataStreamer: true, KeyMode: "device",
		Env: map[string][]string{
			"provisioner":    {"WORKERS=16", liftedQuotas, "LOG_LEVEL=warn"},
			"onboarding-api": {"ENROL_INTERVAL=0s", "LOG_LEVEL=warn"},
			"vpn-gateway":    {"LOG_LEVEL=warn", "RATE_LIMIT=1000", "RATE_BURST=1000"},
			"deactivator":    {"LOG_LEVEL=warn"},
		},
	})
	if err != nil {
		return enrolResult{}, err
	}
	defer stack.Stop()
	if err := awaitSIMs(ctx, stack, o.enrolDevices); err != nil {
		return enrolResult{}, err
	}
	type dev struct {
		ip  string
		csr []byte
	}
	devs := make([]dev, o.enrolDevices)
	for i := range devs {
		key, err := device.NewKey()
		if err != nil {
			return enrolResult{}, err
		}
		csr, err := device.NewCSR(key)
		if err != nil {
			return enrolResult{}, err
		}
		devs[i] = dev{ip: fmt.Sprintf("127.3.%d.%d", (i+1)/256, (i+1)%256), csr: csr}
	}
	fmt.Fprintf(out, "enrolment: %d devices in key mode device, %d at a time, through %s\n", len(devs), o.enrolWorkers, stack.CertificateURL())
	var (
		mu    sync.Mutex
		took  []time.Duration
		res   = enrolResult{devices: len(devs)}
		work  = make(chan dev)
		wg    sync.WaitGroup
		start = time.Now()
	)
	for range o.enrolWorkers {
		wg.Go(func() {
			for d := range work {
				t0 := time.Now()
				pending, err := enrolOne(ctx, stack.GatewayURL(), stack.CertificateURL(), d.ip, d.csr)
				mu.Lock()
				res.pending += pending
				if err != nil {
					res.errors++
					fmt.Fprintf(out, "  %s: %v\n", d.ip, err)
				} else {
					took = append(took, time.Since(t0))
				}
				mu.Unlock()
			}
		})
	}
	for _, d := range devs {
		work <- d
	}
	close(work)
	wg.Wait()
	res.wall = time.Since(start)
	if len(took) == 0 {
		return res, errors.New("no enrolment succeeded")
	}
	slices.Sort(took)
	res.p50, res.p99, res.max = took[len(took)/2], took[min(len(took)-1, len(took)*99/100)], took[len(took)-1]
	fmt.Fprintf(out, "enrolment: %d enrolled in %.1f s: %.1f enrolments/s, p50 %.0f ms, p99 %.0f ms, max %.0f ms, %d answered 202 first, %d errors\n",
		len(took), res.wall.Seconds(), res.perSecond(), ms(res.p50), ms(res.p99), ms(res.max), res.pending, res.errors)
	return res, nil
}

// enrolOne enrols one device until it has its certificate and checks the
// certificate is for its key; pending counts the 202s on the way.
func enrolOne(ctx context.Context, url, certURL, ip string, csr []byte) (pending int, err error) {
	c, err := device.New(url, ip, 30*time.Second)
	if err != nil {
		return 0, err
	}
	for {
		_, err := c.Enrol(ctx, certURL, csr)
		var p *device.PendingError
		if !errors.As(err, &p) {
			return pending, err
		}
		pending++
		select {
		case <-ctx.Done():
			return pending, ctx.Err()
		case <-time.After(p.RetryAfter):
		}
	}
}

// awaitSIMs waits until n records are active: every SIM provisioned, its
// device free to enrol.
func awaitSIMs(ctx context.Context, s *devstack.Stack, n int) error {
	cfg, err := testkit.LoadAWSConfig(ctx, s.AWSEndpoint())
	if err != nil {
		return err
	}
	store := simstore.NewDynamo(dynamodb.NewFromConfig(cfg), s.Resources.Table())
	deadline := time.Now().Add(5 * time.Minute)
	for {
		active := 0
		if err := store.Scan(ctx, func(sum simrec.Summary) error {
			if sum.Active {
				active++
			}
			return nil
		}); err != nil {
			return err
		}
		if active == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d SIMs active after 5 minutes", active, n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
