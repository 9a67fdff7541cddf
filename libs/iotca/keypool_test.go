package iotca_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/iotca"
	"github.com/simbridge/simbridge/libs/testkit"
)

// A pool fills up ahead, hands out each key once, fills again, and stops
// with its context.
func TestKeyPoolFillsAheadAndHandsOutEachKeyOnce(t *testing.T) {
	t.Parallel()
	pool, err := iotca.NewKeyPool(iotca.KeyECP256, 3)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pool.Run(ctx) }()
	full := func() error {
		if n := pool.Ready(); n != 3 {
			return errors.New("pool not full")
		}
		return nil
	}
	testkit.Eventually(t, 10*time.Second, "a full pool", full)
	seen := map[string]bool{}
	for range 5 { // 3 pooled, then on demand or refilled
		k, err := pool.Key()
		if err != nil {
			t.Fatal(err)
		}
		ec, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			t.Fatalf("key %T, want ECDSA", k)
		}
		id := ec.X.String()
		if seen[id] {
			t.Fatal("a key was handed out twice")
		}
		seen[id] = true
	}
	testkit.Eventually(t, 10*time.Second, "the pool filled again", full)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run returned %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop with its context")
	}
}

// Without keys ready (an empty pool, or size 0) a key is generated at once,
// of the pool's type.
func TestKeyPoolGeneratesOnDemandWhenEmpty(t *testing.T) {
	t.Parallel()
	for _, size := range []int{0, 4} {
		pool, err := iotca.NewKeyPool(iotca.KeyRSA2048, size)
		if err != nil {
			t.Fatal(err)
		}
		var k crypto.Signer
		if k, err = pool.Key(); err != nil {
			t.Fatal(err)
		}
		if r, ok := k.(*rsa.PrivateKey); !ok || r.N.BitLen() != 2048 {
			t.Fatalf("size %d: key %T, want RSA-2048", size, k)
		}
		if pool.KeyType() != iotca.KeyRSA2048 || pool.Ready() != 0 {
			t.Fatalf("size %d: type %s, %d ready", size, pool.KeyType(), pool.Ready())
		}
	}
	// A pool of none keeps nothing and only waits for its context.
	pool, _ := iotca.NewKeyPool(iotca.KeyECP256, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := pool.Run(ctx); !errors.Is(err, context.DeadlineExceeded) || pool.Ready() != 0 {
		t.Fatalf("Run = %v with %d ready", err, pool.Ready())
	}
}

func TestNewKeyPoolRefusesWhatCannotWork(t *testing.T) {
	t.Parallel()
	if _, err := iotca.NewKeyPool("dsa", 1); err == nil {
		t.Error("unknown key type accepted")
	}
	if _, err := iotca.NewKeyPool(iotca.KeyECP256, -1); err == nil {
		t.Error("negative size accepted")
	}
}

// BenchmarkKeyGeneration prints what one device key costs a core; a Fargate
// task of a quarter vCPU takes four times as long.
func BenchmarkKeyGeneration(b *testing.B) {
	for _, kt := range []iotca.KeyType{iotca.KeyRSA2048, iotca.KeyECP256} {
		b.Run(string(kt), func(b *testing.B) {
			for b.Loop() {
				if _, err := kt.Key(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
