// Command bench-scale measures sim-poller at fleet scale (make bench-scale):
// a SIM table of a million records in dynalite (a DynamoDB emulator that
// answers at realistic speed and reports ConsumedCapacity as DynamoDB does),
// the 1NCE simulator listing the same million plus some new SIMs, paced
// above 1NCE's 10 requests/s so the run ends in minutes, and the whole
// local stack around the real sim-poller binary (provisioner, deactivator,
// onboarding-api and the gateway against moto for IoT and KMS, SQS from the
// in-memory stub).
//
//  1. Full sync: one POST /sync over the whole account. It reports the run's
//     time, when its first command left (creates go out while 1NCE is still
//     listing), sim-poller's peak resident memory and the bytes it read per
//     SIM from the table (its store_read_units_total × 8 KB /
//     store_read_items_total: DynamoDB's ConsumedCapacity of the scan).
//  2. Events: the Data Streamer posts events for a while (200 a second by
//     default), most of them PDP contexts of active SIMs that change nothing,
//     some usage records, and 1 % real changes made in the simulator
//     (disables, IP moves, new SIMs). It reports how many 1NCE single-SIM
//     lookups sim-poller made a second, the events delivered a second, and
//     checks that every real change reached its device.
//
// The last line is sims=… peak_rss_mb=… store_bytes_per_sim=…
// first_command_s=… sync_s=… hint_lookups_per_s=… events_per_s=… missed=…
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/simbridge/simbridge/tools/devstack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench-scale:", err)
		stop()
		os.Exit(1)
	}
}

// settings are the benchmark's flags.
type settings struct {
	bin, logs, dynalite string
	cache               string
	fresh               bool
	sims, added         int
	onceRate            float64
	eventRate           float64
	eventsFor           time.Duration
	changeShare         float64
	limit               time.Duration
}

// Shape of the inventory: 19-digit ICCIDs, loopback IPs from 127.1.0.1 so
// a device can bind its SIM's address.
const (
	prefix      = "simbridge-local"
	iccidPrefix = "8988280666"
	ipPattern   = "127.x.x.x"
	ipStart     = 65537
)

// emulatorQuotas lifts the account-wide IoT quotas: the emulator has none.
const emulatorQuotas = "IOT_QUOTAS=CreateKeysAndCertificate=10000,RegisterCertificate=10000,UpdateCertificate=10000,AttachPolicy=10000," +
	"DescribeCertificate=10000,CreateThing=10000,DescribeThing=10000,AddThingToThingGroup=10000,AttachThingPrincipal=10000," +
	"DetachThingPrincipal=10000,ListThingPrincipals=10000,DeleteCertificate=10000"

func parse(args []string) (settings, error) {
	var s settings
	fs := flag.NewFlagSet("bench-scale", flag.ContinueOnError)
	fs.StringVar(&s.bin, "bin", "bin", "directory of the built commands")
	fs.StringVar(&s.logs, "logs", ".run/bench-scale", "log folder")
	fs.StringVar(&s.cache, "cache", ".cache/bench-scale", "folder of the seeded tables, kept between runs")
	fs.BoolVar(&s.fresh, "fresh", false, "seed the table again even if an earlier run left one")
	fs.StringVar(&s.dynalite, "dynalite", os.Getenv("DYNALITE"), "dynalite executable (tools/scripts/ensure-dynalite.sh prints it)")
	fs.IntVar(&s.sims, "sims", 1_000_000, "SIMs in the account")
	fs.IntVar(&s.added, "new", 200, "of them new to the table: the full sync creates them")
	fs.Float64Var(&s.onceRate, "once-rate", 200, "sim-poller's 1NCE rate limit, requests/s (1NCE allows 10: the bench runs faster to end in minutes)")
	fs.Float64Var(&s.eventRate, "event-rate", 200, "Data Streamer events per second")
	fs.DurationVar(&s.eventsFor, "events-for", 5*time.Minute, "how long events are posted")
	fs.Float64Var(&s.changeShare, "change-share", 0.01, "share of events that are real changes")
	fs.DurationVar(&s.limit, "limit", 2*time.Minute, "a change not seen by its device this long after the events end is missed")
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if s.dynalite == "" {
		return s, fmt.Errorf("-dynalite (or DYNALITE) must name the dynalite executable: run tools/scripts/ensure-dynalite.sh")
	}
	if s.added >= s.sims || s.added < 1 {
		return s, fmt.Errorf("-new %d: want between 1 and -sims", s.added)
	}
	return s, nil
}

func run(ctx context.Context, args []string, out io.Writer) error {
	s, err := parse(args)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.logs, 0o755); err != nil {
		return err
	}
	dir := tableDir(s.cache, s)
	if s.fresh {
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	db, err := startDynalite(ctx, s.dynalite, dir, filepath.Join(s.logs, "dynalite.log"))
	if err != nil {
		return err
	}
	defer db.stop()
	fmt.Fprintf(out, "# %d SIMs: table in dynalite %s, 1NCE simulator at %g requests/s, logs in %s\n", s.sims, db.endpoint, s.onceRate, s.logs)
	if err := dropLeases(ctx, db.endpoint, prefix+"-leases"); err != nil {
		return err
	}
	stack, err := devstack.Start(ctx, devstack.Options{
		BinDir: s.bin, LogDir: s.logs, Prefix: prefix, SIMs: s.sims, ICCIDPrefix: iccidPrefix, IPPattern: ipPattern, IPStart: ipStart,
		SyncInterval: 24 * time.Hour, FastSQS: true, DynamoDBEndpoint: db.endpoint, OnceRate: s.onceRate * 1.2, Progress: out,
		Env: map[string][]string{
			"sim-poller":     {"SYNC_ON_START=false", fmt.Sprintf("ONCE_RATE_LIMIT=%g", s.onceRate), "LOG_LEVEL=warn"},
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
	b, err := newBench(ctx, s, stack, db.endpoint, dir)
	if err != nil {
		return err
	}
	if err := b.seed(ctx, out); err != nil {
		return err
	}
	sync, err := b.fullSync(ctx, out)
	if err != nil {
		return err
	}
	ev, err := b.events(ctx, out)
	if err != nil {
		return err
	}
	rss, err := b.pollerPeakRSSMB()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "sims=%d peak_rss_mb=%.1f store_bytes_per_sim=%.1f first_command_s=%.2f sync_s=%.1f hint_lookups_per_s=%.2f events_per_s=%.1f missed=%d\n",
		s.sims, rss, sync.bytesPerSIM, sync.firstCommand, sync.seconds, ev.lookupsPerSecond, ev.eventsPerSecond, ev.missed)
	if ev.missed > 0 {
		return fmt.Errorf("%d real changes did not reach their device", ev.missed)
	}
	return nil
}
