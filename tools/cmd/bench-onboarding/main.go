// Command bench-onboarding measures device onboarding through vpn-gateway:
// 1,000 devices, each from its own loopback address, at a fixed 1,000
// requests/s and then as fast as the gateway sustains, and in the same run
// the same load through nginx configured as 1NCE's reference did, in front
// of the same onboarding-api. onboarding-api's AWS calls go to an in-process
// stub (tools/awsstub) so the emulator is not what is measured.
//
// Then the enrolment phase (enrol.go): the whole system in key mode device,
// every device enrolling with a key of its own through the gateway.
//
// The last line is the summary:
// p99_ms_at_1000rps=<a> max_rps=<b> nginx_max_rps=<c> ratio=<b/c> errors=<e> enrolments_per_s=<f> enrol_p99_ms=<g> enrol_errors=<h>
// where errors counts non-200 answers of the gateway phases.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/simbridge/simbridge/libs/cli"
)

func main() { os.Exit(cli.Command("bench-onboarding", run)) }

// options are the benchmark's knobs.
type options struct {
	bin, nginx, logDir   string
	devices, rate        int
	fixedFor, maxFor     time.Duration
	workers              uint64
	gatewayRate, gwBurst string
	// enrolDevices and enrolWorkers shape the enrolment phase (0 devices:
	// skipped).
	enrolDevices, enrolWorkers int
	enrolOnly                  bool
}

func parse(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench-onboarding", flag.ContinueOnError)
	fs.StringVar(&o.bin, "bin", "bin", "directory with the onboarding-api and vpn-gateway binaries (make build)")
	fs.StringVar(&o.nginx, "nginx", "nginx", "nginx executable (Debian's nginx package)")
	fs.StringVar(&o.logDir, "logs", "", "directory for the processes' logs (default: a temporary one)")
	fs.IntVar(&o.devices, "devices", 1000, "distinct device (SIM) IPs")
	fs.IntVar(&o.rate, "rate", 1000, "fixed request rate per second")
	fs.DurationVar(&o.fixedFor, "fixed-duration", 20*time.Second, "length of each fixed-rate phase")
	fs.DurationVar(&o.maxFor, "max-duration", 10*time.Second, "length of each maximum-rate phase")
	fs.Uint64Var(&o.workers, "workers", 64, "concurrent requests in the maximum-rate phases")
	fs.StringVar(&o.gatewayRate, "gateway-rate-limit", "1000", "the gateway's RATE_LIMIT per device IP (the max phases send several per second per device)")
	fs.StringVar(&o.gwBurst, "gateway-rate-burst", "1000", "the gateway's RATE_BURST")
	fs.IntVar(&o.enrolDevices, "enrol-devices", 200, "devices of the enrolment phase, each its own SIM on 127.3.x.x (0: no enrolment phase)")
	fs.IntVar(&o.enrolWorkers, "enrol-workers", 16, "enrolments in flight in the enrolment phase")
	fs.BoolVar(&o.enrolOnly, "enrol-only", false, "run the enrolment phase only")
	return o, fs.Parse(args)
}

func run(ctx context.Context, args []string, out io.Writer) error {
	o, err := parse(args)
	if err != nil {
		return err
	}
	if o.logDir == "" {
		if o.logDir, err = os.MkdirTemp("", "bench-onboarding-*"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(o.logDir, 0o755); err != nil {
		return err
	}
	var summary string
	if !o.enrolOnly {
		fmt.Fprintf(out, "preparing %d devices with their certificates and keys; logs in %s\n", o.devices, o.logDir)
		st, err := startStack(ctx, o)
		if err != nil {
			return err
		}
		summary, err = measure(ctx, o, st, out)
		st.stop()
		if err != nil {
			return err
		}
	}
	if o.enrolDevices > 0 {
		e, err := enrolPhase(ctx, o, out)
		if err != nil {
			return fmt.Errorf("enrolment phase: %w", err)
		}
		summary += fmt.Sprintf(" enrolments_per_s=%.1f enrol_p99_ms=%.0f enrol_errors=%d", e.perSecond(), ms(e.p99), e.errors)
	}
	fmt.Fprintln(out, strings.TrimSpace(summary))
	return nil
}
