package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/oncesim"
	"github.com/simbridge/simbridge/tools/device"
)

// eventResult is what the events phase measured.
type eventResult struct {
	lookupsPerSecond, eventsPerSecond float64
	changes, missed                   int
}

// change is one real change made in the simulator and what the SIM's
// device must see afterwards.
type change struct {
	kind  string // new, moved, disabled
	iccid string
	ip    string // where the device asks
}

// events posts Data Streamer events at s.eventRate for s.eventsFor through
// the simulator's streamer (it batches them to sim-poller's receiver as
// 1NCE does): PDP contexts of active SIMs with their own IP, usage records,
// and a share of real changes, made in the simulator's inventory (which
// emits their events itself). It then checks every change at its device.
func (b *bench) events(ctx context.Context, out io.Writer) (eventResult, error) {
	if err := b.admin.ResetStats(ctx); err != nil {
		return eventResult{}, err
	}
	before, err := b.pollerMetrics(ctx)
	if err != nil {
		return eventResult{}, err
	}
	g := &generator{b: b, rng: rand.New(rand.NewPCG(1, 2)), pool: b.fresh}
	start := time.Now()
	g.run(ctx)
	took := time.Since(start)
	stats, err := b.admin.Stats(ctx)
	if err != nil {
		return eventResult{}, err
	}
	after, err := b.pollerMetrics(ctx)
	if err != nil {
		return eventResult{}, err
	}
	lookups := 0
	for _, n := range stats.Requests[oncesim.EndpointSIM] {
		lookups += int(n)
	}
	backlog, err := b.syncBacklog(ctx)
	if err != nil {
		return eventResult{}, err
	}
	refused := after[`simbridge_sim_poller_stream_requests_total{code="503"}`] - before[`simbridge_sim_poller_stream_requests_total{code="503"}`]
	delivered := after["simbridge_sim_poller_stream_records_total"] - before["simbridge_sim_poller_stream_records_total"]
	r := eventResult{lookupsPerSecond: float64(lookups) / took.Seconds(), eventsPerSecond: delivered / took.Seconds(), changes: len(g.changes)}
	fmt.Fprintf(out, "events: %d posted in %.0f s (%d real changes, %d change errors), %.0f delivered to sim-poller (%.0f answered 503), %d single-SIM lookups in 1NCE, %d sync requests waiting at the end\n",
		g.posted, took.Seconds(), len(g.changes), g.errors, delivered, refused, lookups, backlog)
	r.missed = b.check(ctx, g.changes, out)
	return r, nil
}

// generator makes the events of the phase.
type generator struct {
	b       *bench
	rng     *rand.Rand
	pool    []onceapi.SIM // provisioned SIMs left to disable or move
	mu      sync.Mutex
	changes []change
	posted  int
	errors  int
	added   int
	wg      sync.WaitGroup
}

// run posts a tenth of a second's events every 100 ms until the phase ends.
func (g *generator) run(ctx context.Context) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	end := time.After(g.b.s.eventsFor)
	perTick := g.b.s.eventRate / 10
	carry := 0.0
	id := 0
	for {
		select {
		case <-ctx.Done():
			g.wg.Wait()
			return
		case <-end:
			g.wg.Wait()
			return
		case <-tick.C:
		}
		carry += perTick
		n := int(carry)
		carry -= float64(n)
		var recs []onceapi.StreamRecord
		for range n {
			id++
			switch x := g.rng.Float64(); {
			case x < g.b.s.changeShare:
				g.change(ctx)
			case x < 0.96:
				recs = append(recs, g.pdpContext(id))
			default:
				recs = append(recs, usage(id))
			}
		}
		if len(recs) > 0 {
			// Posted beside the ticker, so a slow answer does not slow the
			// rate down.
			g.wg.Go(func() {
				if err := g.b.admin.StreamEvents(ctx, recs...); err != nil {
					g.count(func() { g.errors++ })
					return
				}
				g.count(func() { g.posted += len(recs) })
			})
		}
	}
}

func (g *generator) count(f func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f()
}

// pdpContext is a data session of a random active SIM, with its own IP: an
// event that cannot change anything.
func (g *generator) pdpContext(id int) onceapi.StreamRecord {
	sim := g.b.known[g.rng.IntN(len(g.b.known))]
	return onceapi.StreamRecord{ID: onceapi.RecordID("bench-" + strconv.Itoa(id)), Timestamp: time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		EventType:   &onceapi.StreamType{ID: 3, Description: onceapi.EventCreatePDPContext},
		EventSource: &onceapi.StreamType{ID: 0, Description: "Network"},
		SIM:         &onceapi.StreamSIM{ICCID: sim.ICCID, MSISDN: sim.MSISDN},
		Endpoint:    &onceapi.StreamEndpoint{Name: sim.ICCID, IPAddress: sim.IPAddress}}
}

// usage is a traffic record: counted and ignored.
func usage(id int) onceapi.StreamRecord {
	return onceapi.StreamRecord{ID: onceapi.RecordID("bench-usage-" + strconv.Itoa(id)), TrafficType: &onceapi.StreamType{ID: 5, Description: "Data"},
		StartTimestamp: time.Now().UTC().Format("2006-01-02T15:04:05.000Z")}
}

// change makes one real change in the simulator: it disables or moves a
// provisioned SIM while some are left (alternately), else adds a new one.
func (g *generator) change(ctx context.Context) {
	g.mu.Lock()
	var c change
	var do func(context.Context) error
	n := len(g.changes)
	switch {
	case len(g.pool) > 0 && n%3 == 0:
		sim := g.pool[0]
		g.pool = g.pool[1:]
		c = change{kind: "disabled", iccid: sim.ICCID, ip: sim.IPAddress}
		do = func(ctx context.Context) error { return g.b.admin.SetStatus(ctx, sim.ICCID, onceapi.StatusDisabled) }
	case len(g.pool) > 0 && n%3 == 1:
		sim := g.pool[0]
		g.pool = g.pool[1:]
		ip := fmt.Sprintf("127.250.%d.%d", n/250, n%250+1)
		c = change{kind: "moved", iccid: sim.ICCID, ip: ip}
		do = func(ctx context.Context) error { return g.b.admin.SetIP(ctx, sim.ICCID, ip) }
	default:
		g.added++
		sim := onceapi.SIM{ICCID: newICCID(g.added), IPAddress: fmt.Sprintf("127.251.%d.%d", g.added/250, g.added%250+1),
			Status: onceapi.StatusEnabled}
		c = change{kind: "new", iccid: sim.ICCID, ip: sim.IPAddress}
		do = func(ctx context.Context) error { return g.b.admin.AddSIMs(ctx, sim) }
	}
	g.changes = append(g.changes, c)
	g.mu.Unlock()
	g.wg.Go(func() {
		if err := do(ctx); err != nil {
			g.count(func() { g.errors++ })
		}
	})
}

// check waits, up to s.limit, until each change shows in its SIM's record,
// then asks once as the device; it returns how many changes did not reach
// their device.
func (b *bench) check(ctx context.Context, changes []change, out io.Writer) int {
	deadline := time.Now().Add(b.s.limit)
	pending := changes
	for len(pending) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		var still []change
		for _, c := range pending {
			if !b.recorded(ctx, c) {
				still = append(still, c)
			}
		}
		pending = still
		if len(pending) > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
	missed := len(pending)
	for _, c := range pending {
		fmt.Fprintf(out, "missed: %s %s (record never showed it)\n", c.kind, c.iccid)
	}
	for _, c := range changes {
		if err := b.atDevice(ctx, c); err != nil && !contains(pending, c) {
			missed++
			fmt.Fprintf(out, "missed: %s %s at its device: %v\n", c.kind, c.iccid, err)
		}
	}
	return missed
}

// recorded reports whether the SIM's record shows the change.
func (b *bench) recorded(ctx context.Context, c change) bool {
	rec, err := b.store.Get(ctx, c.iccid)
	if err != nil {
		return false
	}
	if c.kind == "disabled" {
		return rec.CurrentState() == simrec.StateDisabled
	}
	return rec.CurrentState() == simrec.StateActive && rec.IP == c.ip && rec.Settled()
}

// atDevice asks as the device at the change's IP: 404 once disabled, its
// own credentials otherwise.
func (b *bench) atDevice(ctx context.Context, c change) error {
	dev, err := device.New(b.stack.GatewayURL(), c.ip, 10*time.Second)
	if err != nil {
		return err
	}
	creds, err := dev.Fetch(ctx, nil)
	var se *device.StatusError
	switch {
	case c.kind == "disabled" && errors.As(err, &se) && se.Code == http.StatusNotFound:
		return nil
	case c.kind == "disabled":
		return fmt.Errorf("want 404, got %v", err)
	case err != nil:
		return err
	case creds.ICCID != c.iccid:
		return fmt.Errorf("answered for %s", creds.ICCID)
	}
	return nil
}

func contains(cs []change, c change) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

// syncBacklog is how many sync requests wait in sim-poller's queue (visible
// or in flight): a backlog that grows means hints arrive faster than they
// are handled.
func (b *bench) syncBacklog(ctx context.Context) (int, error) {
	cfg, err := testkit.LoadAWSConfig(ctx, b.stack.SQSEndpoint())
	if err != nil {
		return 0, err
	}
	q := sqs.NewFromConfig(cfg)
	url, err := q.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(b.stack.Resources.SyncQueue())})
	if err != nil {
		return 0, err
	}
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: url.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{
		sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, v := range attrs.Attributes {
		k, _ := strconv.Atoi(v)
		n += k
	}
	return n, nil
}
