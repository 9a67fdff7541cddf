package domain_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/services/sim-poller/internal/domain"
)

// BenchmarkReconcileAMillionSIMs measures the reconciler's live memory for
// a million SIMs (store and listing alike, releasing a page at a time):
// go test -run '^$' -bench ReconcileAMillion ./internal/domain (in
// services/sim-poller). It reports live_mb, the heap a full sync keeps.
func BenchmarkReconcileAMillionSIMs(b *testing.B) {
	const n = 1_000_000
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		r := domain.NewReconciler(nil)
		for i := range n {
			r.AddLocal(simrec.Summary{ICCID: fmt.Sprintf("8988280666%09d", i), IP: ipOf(i), Active: true, State: simrec.StateActive,
				Status: domain.StatusEnabled, Version: 3})
		}
		for i := range n {
			r.Observe(domain.RemoteSIM{ICCID: fmt.Sprintf("8988280666%09d", i), IP: ipOf(i), Status: domain.StatusEnabled})
			if i%100 == 99 {
				r.Release()
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "live_mb")
		runtime.KeepAlive(r)
	}
}

func ipOf(i int) string { return fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255) }
