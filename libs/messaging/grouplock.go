package messaging

import (
	"context"
	"sync"
)

// groupLocks serialises the handling of one message group (one SIM) inside
// a process. SQS FIFO already hands out one message of a group at a time,
// but when a handler outlives its message's visibility (an overloaded
// endpoint delays the extension) the message is handed out again: the second
// delivery then waits for the first to finish instead of racing it.
type groupLocks struct {
	mu   sync.Mutex
	busy map[string]chan struct{}
}

// lock waits until no other handler holds group, then holds it.
func (g *groupLocks) lock(ctx context.Context, group string) (unlock func(), err error) {
	for {
		g.mu.Lock()
		if g.busy == nil {
			g.busy = map[string]chan struct{}{}
		}
		done, held := g.busy[group]
		if !held {
			done = make(chan struct{})
			g.busy[group] = done
			g.mu.Unlock()
			return func() {
				g.mu.Lock()
				delete(g.busy, group)
				g.mu.Unlock()
				close(done)
			}, nil
		}
		g.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
