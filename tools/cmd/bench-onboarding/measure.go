package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/simbridge/simbridge/tools/loadgen"
)

// measure runs the phases and prints one line per phase; it returns the
// summary.
func measure(ctx context.Context, o options, st *stack, out io.Writer) (string, error) {
	fleet, err := loadgen.NewFleet(st.ips)
	if err != nil {
		return "", err
	}
	defer fleet.Close()
	phase := func(name, url string, rate int, d time.Duration) loadgen.Result {
		before := st.cpu()
		r := fleet.Run(ctx, loadgen.Phase{Name: name, URL: url, Rate: rate, Workers: o.workers, Duration: d})
		fmt.Fprintf(out, "%s cpu_us_per_req[%s]\n", r, st.cpuPerRequest(before, r.Requests))
		return r
	}
	fmt.Fprintf(out, "%d devices from 127.1.x.y, %d requests/s for %v, then %d workers as fast as they go for %v\n",
		o.devices, o.rate, o.fixedFor, o.workers, o.maxFor)
	phase("warm-up gateway", st.gatewayURL, o.rate/2, 2*time.Second)
	gwFixed := phase("gateway fixed rate", st.gatewayURL, o.rate, o.fixedFor)
	gwMax := phase("gateway max rate", st.gatewayURL, 0, o.maxFor)
	phase("warm-up nginx", st.nginxURL, o.rate/2, 2*time.Second)
	ngFixed := phase("nginx fixed rate", st.nginxURL, o.rate, o.fixedFor)
	ngMax := phase("nginx max rate", st.nginxURL, 0, o.maxFor)
	if err := ctx.Err(); err != nil {
		return "", err
	}
	fmt.Fprintf(out, "nginx (reference) p99_ms_at_%drps=%.2f errors=%d\n", o.rate, ms(ngFixed.P99), ngFixed.Errors+ngMax.Errors)
	return fmt.Sprintf("p99_ms_at_1000rps=%.2f max_rps=%.0f nginx_max_rps=%.0f ratio=%.2f errors=%d",
		ms(gwFixed.P99), gwMax.Throughput, ngMax.Throughput, gwMax.Throughput/max(ngMax.Throughput, 1), gwFixed.Errors+gwMax.Errors), nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
