package iotca

import (
	"context"
	"crypto"
	"fmt"
)

// Keys gives Issue a fresh device key. A KeyType generates one on demand; a
// KeyPool hands out one generated ahead.
type Keys interface {
	Key() (crypto.Signer, error)
	KeyType() KeyType
}

// Key generates a key of type t now.
func (t KeyType) Key() (crypto.Signer, error) { return newKey(t) }

// KeyType is t itself.
func (t KeyType) KeyType() KeyType { return t }

// KeyPool keeps up to size device keys generated ahead, so a burst of new
// SIMs does not wait for key generation: an RSA-2048 key costs about 70 ms
// of a core (about 0.3 s on a quarter-vCPU Fargate task), more than the IoT
// calls of the SIM. Run fills the pool on one goroutine while the process has
// time; Key takes a pooled key, or generates one at once when the pool is
// empty. Pooled keys live only in this process's memory, each handed out
// once; a restart discards them.
type KeyPool struct {
	t    KeyType
	keys chan crypto.Signer
}

// NewKeyPool returns a pool of up to size keys of type t (0: none kept,
// every key generated on demand).
func NewKeyPool(t KeyType, size int) (*KeyPool, error) {
	if _, err := ParseKeyType(string(t)); err != nil {
		return nil, err
	}
	if size < 0 {
		return nil, fmt.Errorf("key pool size %d: must not be negative", size)
	}
	return &KeyPool{t: t, keys: make(chan crypto.Signer, size)}, nil
}

// KeyType is the type of the pool's keys.
func (p *KeyPool) KeyType() KeyType { return p.t }

// Key hands out a pooled key, or generates one when none is ready.
func (p *KeyPool) Key() (crypto.Signer, error) {
	select {
	case k := <-p.keys:
		return k, nil
	default:
		return newKey(p.t)
	}
}

// Ready is the number of keys waiting in the pool.
func (p *KeyPool) Ready() int { return len(p.keys) }

// Run keeps the pool full until ctx ends; it returns ctx's error, or the
// first key generation error.
func (p *KeyPool) Run(ctx context.Context) error {
	if cap(p.keys) == 0 {
		<-ctx.Done()
		return context.Cause(ctx)
	}
	for {
		k, err := newKey(p.t)
		if err != nil {
			return err
		}
		select {
		case p.keys <- k:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}
