// Command bench-realtime measures how fast a change in 1NCE reaches the
// device's answer through the Data Streamer (make bench-realtime): with
// 1,000 SIMs provisioned on the local stack and sim-poller's poll an hour
// away, it makes 100 changes at once through the simulator's admin API
// (new SIMs, disabled SIMs, SIMs moved to another IP) and, for each, times
// how long until the device at the SIM's IP gets the new answer
// (onboardable, 404, onboardable at the new IP). The last line is
// p50_s=… p99_s=… max_s=… changes=100 missed=0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/oncesim"
	"github.com/simbridge/simbridge/tools/device"
	"github.com/simbridge/simbridge/tools/devstack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench-realtime:", err)
		stop()
		os.Exit(1)
	}
}

// emulatorQuotas lifts the account-wide IoT quotas: the emulator has none.
const emulatorQuotas = "IOT_QUOTAS=CreateKeysAndCertificate=10000,RegisterCertificate=10000,UpdateCertificate=10000,AttachPolicy=10000," +
	"DescribeCertificate=10000,CreateThing=10000,DescribeThing=10000,AddThingToThingGroup=10000,AttachThingPrincipal=10000," +
	"DetachThingPrincipal=10000,ListThingPrincipals=10000,DeleteCertificate=10000"

type settings struct {
	bin, logs           string
	sims, added, off    int
	moved               int
	onceRate            float64
	poll, limit, window time.Duration
}

func run(ctx context.Context, args []string, out io.Writer) error {
	var s settings
	fs := flag.NewFlagSet("bench-realtime", flag.ContinueOnError)
	fs.StringVar(&s.bin, "bin", "bin", "directory of the built commands")
	fs.StringVar(&s.logs, "logs", ".run/bench-realtime", "log folder")
	fs.IntVar(&s.sims, "sims", 1000, "provisioned SIMs before the changes")
	fs.IntVar(&s.added, "new", 40, "SIMs added")
	fs.IntVar(&s.off, "disabled", 30, "SIMs disabled")
	fs.IntVar(&s.moved, "moved", 30, "SIMs given another IP")
	fs.Float64Var(&s.onceRate, "once-rate", 10, "sim-poller's 1NCE rate limit (requests/s; 1NCE allows 10)")
	fs.DurationVar(&s.window, "hint-window", time.Second, "sim-poller's HINT_WINDOW")
	// Each ask is a DynamoDB Query that moto answers by walking the whole
	// table: 100 devices asking every 5 s took half of moto's time and
	// doubled the figures (p99 32.8 s against 15.7 s at 30 s), without
	// making them more exact, since a device asks every 100 ms once the
	// record is written. The slow ask only catches a missing notification.
	fs.DurationVar(&s.poll, "poll", 30*time.Second, "how often each device asks while no notification of its SIM came (then every 100 ms)")
	fs.DurationVar(&s.limit, "limit", 60*time.Second, "a change not seen by then is missed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	fmt.Fprintf(out, "Data Streamer to device: %d SIMs provisioned, then %d new + %d disabled + %d moved at once (logs in %s)\n",
		s.sims, s.added, s.off, s.moved, s.logs)
	stack, err := devstack.Start(ctx, devstack.Options{
		BinDir: s.bin, LogDir: s.logs, SIMs: s.sims, ICCIDPrefix: "89882806660", IPPattern: "127.1.x.x", IPStart: 1,
		SyncInterval: time.Hour, FastSQS: true, Progress: out,
		Env: map[string][]string{
			"sim-poller":     {fmt.Sprintf("ONCE_RATE_LIMIT=%g", s.onceRate), "HINT_WINDOW=" + s.window.String()},
			"provisioner":    {emulatorQuotas, "LOG_LEVEL=warn", "WORKERS=8"},
			"deactivator":    {emulatorQuotas, "LOG_LEVEL=warn", "WORKERS=8"},
			"vpn-gateway":    {"LOG_LEVEL=warn", "RATE_LIMIT=50", "RATE_BURST=50"},
			"onboarding-api": {"LOG_LEVEL=warn"},
		},
	})
	if err != nil {
		return err
	}
	defer stack.Stop()
	if err := waitProvisioned(ctx, stack, s.sims, out); err != nil {
		return err
	}
	runsBefore, err := pollerRuns(ctx, stack)
	if err != nil {
		return err
	}
	changes, err := plan(ctx, stack, s)
	if err != nil {
		return err
	}
	watchCtx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	notes, err := watch(watchCtx, stack)
	if err != nil {
		return err
	}
	motoRate, err := motoCallsPerSecond(ctx, stack)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "moto answers %.0f sequential IoT calls a second this run (the provisioner's pace follows it)\n", motoRate)
	results := apply(ctx, stack, changes, notes, s)
	if got, err := notes.stats(); got < len(changes) || err != nil {
		fmt.Fprintf(out, "success notifications received: %d (last receive error: %v)\n", got, err)
	}
	singles, err := planSingles(ctx, stack, s)
	if err != nil {
		return err
	}
	singles = applyOneByOne(ctx, stack, singles, s)
	runsAfter, err := pollerRuns(ctx, stack)
	if err != nil {
		return err
	}
	return report(out, results, singles, runsAfter-runsBefore, motoRate, s)
}

// singleChanges is how many changes the single-change phase makes.
const singleChanges = 20

// planSingles picks singleChanges changes (new, disabled and moved in
// turn) among SIMs the burst did not touch.
func planSingles(ctx context.Context, stack *devstack.Stack, s settings) ([]*change, error) {
	sims, err := oncesim.NewAdminClient(stack.OnceAdminURL, nil).ListSIMs(ctx)
	if err != nil {
		return nil, err
	}
	spare := sims[s.off+s.moved:]
	if len(spare) < singleChanges {
		return nil, errors.New("not enough SIMs for the single changes")
	}
	var out []*change
	for i := range singleChanges {
		sim := spare[i]
		switch i % 3 {
		case 0:
			fresh := onceapi.SIM{ICCID: fmt.Sprintf("89882806662%08d", i), IPAddress: fmt.Sprintf("127.4.0.%d", i+1), Status: onceapi.StatusEnabled}
			out = append(out, &change{kind: "new", iccid: fresh.ICCID, ip: fresh.IPAddress,
				do: func(ctx context.Context, a *oncesim.AdminClient) error { return a.AddSIMs(ctx, fresh) }})
		case 1:
			out = append(out, &change{kind: "disabled", iccid: sim.ICCID, ip: sim.IPAddress,
				do: func(ctx context.Context, a *oncesim.AdminClient) error {
					return a.SetStatus(ctx, sim.ICCID, onceapi.StatusDisabled)
				}})
		default:
			ip := fmt.Sprintf("127.5.0.%d", i+1)
			out = append(out, &change{kind: "moved", iccid: sim.ICCID, ip: ip,
				do: func(ctx context.Context, a *oncesim.AdminClient) error { return a.SetIP(ctx, sim.ICCID, ip) }})
		}
	}
	return out, nil
}

// applyOneByOne makes each change once the previous one reached its
// device; its device asks every fastPoll from the start.
func applyOneByOne(ctx context.Context, stack *devstack.Stack, changes []*change, s settings) []*change {
	admin := oncesim.NewAdminClient(stack.OnceAdminURL, &http.Client{Timeout: 10 * time.Second})
	fast := s
	fast.poll = fastPoll
	for _, c := range changes {
		c.at = time.Now()
		if err := c.do(ctx, admin); err != nil {
			fmt.Fprintf(os.Stderr, "change %s %s: %v\n", c.kind, c.iccid, err)
			continue
		}
		c.seen, c.ok = follow(ctx, stack.GatewayURL(), c, nil, fast)
	}
	return changes
}

// waitProvisioned waits until n records are active (the start-up sync).
func waitProvisioned(ctx context.Context, stack *devstack.Stack, n int, out io.Writer) error {
	cfg, err := testkit.LoadAWSConfig(ctx, stack.AWSEndpoint())
	if err != nil {
		return err
	}
	store := simstore.NewDynamo(dynamodb.NewFromConfig(cfg), stack.Resources.Table())
	start := time.Now()
	for {
		active := 0
		err := store.Scan(ctx, func(s simrec.Summary) error {
			if s.Active {
				active++
			}
			return nil
		})
		if err != nil {
			return err
		}
		if active >= n {
			fmt.Fprintf(out, "%d SIMs provisioned by the start-up sync in %.0f s\n", n, time.Since(start).Seconds())
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// change is one change made in the simulator and what the device must see.
type change struct {
	kind  string // new, disabled, moved
	iccid string
	ip    string // where the device asks
	do    func(ctx context.Context, a *oncesim.AdminClient) error
	at    time.Time
	seen  time.Duration
	ok    bool
}

// plan picks the SIMs to change: new ones, and disjoint sets of listed
// ones to disable and to move.
func plan(ctx context.Context, stack *devstack.Stack, s settings) ([]*change, error) {
	sims, err := oncesim.NewAdminClient(stack.OnceAdminURL, nil).ListSIMs(ctx)
	if err != nil {
		return nil, err
	}
	if len(sims) < s.off+s.moved {
		return nil, errors.New("not enough SIMs to change")
	}
	var out []*change
	for i := range s.added {
		sim := onceapi.SIM{ICCID: fmt.Sprintf("89882806661%08d", i), IPAddress: fmt.Sprintf("127.2.%d.%d", i/250, i%250+1), Status: onceapi.StatusEnabled}
		out = append(out, &change{kind: "new", iccid: sim.ICCID, ip: sim.IPAddress,
			do: func(ctx context.Context, a *oncesim.AdminClient) error { return a.AddSIMs(ctx, sim) }})
	}
	for _, sim := range sims[:s.off] {
		out = append(out, &change{kind: "disabled", iccid: sim.ICCID, ip: sim.IPAddress,
			do: func(ctx context.Context, a *oncesim.AdminClient) error {
				return a.SetStatus(ctx, sim.ICCID, onceapi.StatusDisabled)
			}})
	}
	for i, sim := range sims[s.off : s.off+s.moved] {
		ip := fmt.Sprintf("127.3.%d.%d", i/250, i%250+1)
		out = append(out, &change{kind: "moved", iccid: sim.ICCID, ip: ip,
			do: func(ctx context.Context, a *oncesim.AdminClient) error { return a.SetIP(ctx, sim.ICCID, ip) }})
	}
	return out, nil
}

// apply makes every change at once and follows each device's answer.
func apply(ctx context.Context, stack *devstack.Stack, changes []*change, notes *notices, s settings) []*change {
	admin := oncesim.NewAdminClient(stack.OnceAdminURL, &http.Client{Timeout: 10 * time.Second})
	var wg sync.WaitGroup
	for _, c := range changes {
		wg.Go(func() {
			c.at = time.Now()
			if err := c.do(ctx, admin); err != nil {
				fmt.Fprintf(os.Stderr, "change %s %s: %v\n", c.kind, c.iccid, err)
				return
			}
			c.seen, c.ok = follow(ctx, stack.GatewayURL(), c, notes.wait(c.iccid), s)
		})
	}
	wg.Wait()
	return changes
}

// follow asks as the device until its answer is the changed one: every
// fastPoll for a while once the SIM's success notification came, else
// every s.poll (so a change without a notification is still seen).
func follow(ctx context.Context, gateway string, c *change, noticed <-chan struct{}, s settings) (time.Duration, bool) {
	dev, err := device.New(gateway, c.ip, 5*time.Second)
	if err != nil {
		return 0, false
	}
	deadline := c.at.Add(s.limit)
	var fastUntil time.Time
	if noticed != nil {
		// A device of the burst asks first when its SIM's notification
		// came, or a slow poll later: a hundred devices asking the moment
		// the changes are made measure nothing and load the emulator's
		// table right when the system under test reads it.
		select {
		case <-noticed:
			fastUntil = time.Now().Add(5 * time.Second)
		case <-time.After(s.poll):
		case <-ctx.Done():
		}
	}
	for time.Now().Before(deadline) && ctx.Err() == nil {
		asked := time.Now()
		creds, err := dev.Fetch(ctx, nil)
		var se *device.StatusError
		switch {
		case c.kind == "disabled" && errors.As(err, &se) && se.Code == http.StatusNotFound:
			return asked.Sub(c.at), true
		case c.kind != "disabled" && err == nil && creds.ICCID == c.iccid:
			return asked.Sub(c.at), true
		}
		next := asked.Add(s.poll)
		if asked.Before(fastUntil) {
			next = asked.Add(fastPoll)
		}
		select {
		case <-noticed:
			fastUntil = time.Now().Add(5 * time.Second)
		case <-time.After(time.Until(next)):
		case <-ctx.Done():
		}
	}
	return 0, false
}

// fastPoll is how often a device asks once its SIM's notification came.
const fastPoll = 100 * time.Millisecond

// report prints the figures by kind and the summary line.
func report(out io.Writer, changes, singles []*change, polls, motoRate float64, s settings) error {
	byKind := map[string][]float64{}
	var all []float64
	missed := 0
	for _, c := range changes {
		if !c.ok {
			missed++
			continue
		}
		byKind[c.kind] = append(byKind[c.kind], c.seen.Seconds())
		all = append(all, c.seen.Seconds())
	}
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		v := byKind[k]
		fmt.Fprintf(out, "%-9s changes=%d p50_s=%.1f p99_s=%.1f max_s=%.1f\n", k, len(v), pct(v, 50), pct(v, 99), pct(v, 100))
	}
	var one []float64
	for _, c := range singles {
		if !c.ok {
			missed++
			continue
		}
		one = append(one, c.seen.Seconds())
	}
	fmt.Fprintf(out, "single changes=%d p50_s=%.2f p99_s=%.2f max_s=%.2f (one at a time, the device asking every %v)\n",
		len(one), pct(one, 50), pct(one, 99), pct(one, 100), fastPoll)
	fmt.Fprintf(out, "1NCE rate limit %g/s, HINT_WINDOW %v, moto %.0f calls/s, devices ask every %v until their SIM's success notification, then every %v; full syncs during the changes: %g\n",
		s.onceRate, s.window, motoRate, s.poll, fastPoll, polls)
	fmt.Fprintf(out, "p50_s=%.1f p99_s=%.1f max_s=%.1f changes=%d missed=%d moto_calls_per_s=%.0f single_p99_s=%.2f\n",
		pct(all, 50), pct(all, 99), pct(all, 100), len(changes), missed, motoRate, pct(one, 99))
	if missed > 0 || polls > 0 {
		return fmt.Errorf("%d changes missed, %g full syncs ran", missed, polls)
	}
	return nil
}

// pct is the p-th percentile (nearest rank).
func pct(v []float64, p float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}
