package oncesim

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"sync"
	"time"
)

// tokenStore remembers issued bearer tokens and their expiry.
type tokenStore struct {
	mu     sync.Mutex
	ttl    time.Duration
	now    func() time.Time
	tokens map[string]time.Time
}

// sweepThreshold is the store size above which issuing a token first drops expired ones.
const sweepThreshold = 1024

// newTokenStore creates a store whose tokens live for ttl.
func newTokenStore(ttl time.Duration) *tokenStore {
	return &tokenStore{ttl: ttl, now: time.Now, tokens: make(map[string]time.Time)}
}

// issue creates a random token valid for the store's TTL.
func (t *tokenStore) issue() (string, error) {
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("issue token: %w", err)
	}
	tok := base64.RawURLEncoding.EncodeToString(buf)
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if len(t.tokens) >= sweepThreshold {
		t.sweep(now)
	}
	t.tokens[tok] = now.Add(t.ttl)
	return tok, nil
}

// valid reports whether tok was issued, not expired and not revoked.
func (t *tokenStore) valid(tok string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	exp, ok := t.tokens[tok]
	if ok && !t.now().Before(exp) {
		delete(t.tokens, tok)
		return false
	}
	return ok
}

// expireAll revokes every issued token and returns how many were still known.
func (t *tokenStore) expireAll() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(t.tokens)
	clear(t.tokens)
	return n
}

// sweep drops expired tokens; the caller holds the lock.
func (t *tokenStore) sweep(now time.Time) {
	for tok, exp := range t.tokens {
		if !now.Before(exp) {
			delete(t.tokens, tok)
		}
	}
}
