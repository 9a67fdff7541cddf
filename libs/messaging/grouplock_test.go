package messaging

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestGroupLocksSerialiseOneGroupOnly(t *testing.T) {
	t.Parallel()
	var g groupLocks
	var inGroupA, maxA, total atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		group := "a"
		if i%2 == 1 {
			group = "b"
		}
		wg.Go(func() {
			unlock, err := g.lock(context.Background(), group)
			if err != nil {
				t.Error(err)
				return
			}
			defer unlock()
			total.Add(1)
			if group == "a" {
				n := inGroupA.Add(1)
				if n > maxA.Load() {
					maxA.Store(n)
				}
				time.Sleep(20 * time.Millisecond)
				inGroupA.Add(-1)
			}
		})
	}
	wg.Wait()
	if maxA.Load() != 1 || total.Load() != 8 {
		t.Fatalf("group a held by %d at once (want 1), %d handled", maxA.Load(), total.Load())
	}
	unlock, _ := g.lock(context.Background(), "a")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := g.lock(ctx, "a"); err == nil {
		t.Fatal("a held group must make a waiter give up with its context")
	}
	unlock()
}
