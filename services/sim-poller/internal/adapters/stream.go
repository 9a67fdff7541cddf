package adapters

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/simbridge/simbridge/libs/config"
	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/messaging"
)

// Versions reads a rotating secret (secrets.Rotating).
type Versions interface {
	Accepted() []config.Secret
	Refresh(ctx context.Context) (bool, error)
}

// StreamCredentials are the Data Streamer's Basic credentials from a
// secret holding either {"username":"…","password":"…"} (what the stack
// generates) or "user:password"; every accepted version counts, so the
// password can be rotated (AWSPENDING, then the 1NCE portal, then
// AWSCURRENT) without refusing a request.
type StreamCredentials struct {
	Secret Versions
}

// Accepted returns the digests of "user:password" of every accepted version.
func (c StreamCredentials) Accepted() [][sha256.Size]byte {
	var out [][sha256.Size]byte
	for _, v := range c.Secret.Accepted() {
		if pair, err := BasicPair(v); err == nil {
			out = append(out, sha256.Sum256([]byte(pair.Reveal())))
		}
	}
	return out
}

// Refresh re-reads the secret.
func (c StreamCredentials) Refresh(ctx context.Context) (bool, error) { return c.Secret.Refresh(ctx) }

// BasicPair turns a secret value into "user:password".
func BasicPair(v config.Secret) (config.Secret, error) {
	s := strings.TrimSpace(v.Reveal())
	if strings.HasPrefix(s, "{") {
		var p struct {
			Username string `json:"username"`
			Password string `json:"password"`
		}
		if err := json.Unmarshal([]byte(s), &p); err != nil || p.Username == "" || p.Password == "" {
			return "", fmt.Errorf("stream credentials: want {\"username\",\"password\"} or user:password")
		}
		return config.Secret(p.Username + ":" + p.Password), nil
	}
	user, pass, ok := strings.Cut(s, ":")
	if !ok || user == "" || pass == "" {
		return "", fmt.Errorf("stream credentials: want {\"username\",\"password\"} or user:password")
	}
	return v, nil
}

// HintQueue enqueues sync requests on sim-poller's request queue.
type HintQueue struct {
	Pub   message.Publisher
	Queue string
}

// Enqueue sends req; SQS has it durably once this returns nil. It gives
// up when ctx ends (the receiver's answer to 1NCE must not wait long); a
// send that landed anyway is deduplicated when 1NCE retries the batch.
func (q HintQueue) Enqueue(ctx context.Context, req events.SyncRequest) error {
	msg, err := messaging.NewSyncRequestMessage(req)
	if err != nil {
		return err
	}
	if err := messaging.Publish(ctx, q.Pub, q.Queue, msg); err != nil {
		return fmt.Errorf("enqueue %s: %w", req.ID, err)
	}
	return nil
}
