package simrectest

import (
	"context"
	"slices"
	"sync"

	"github.com/simbridge/simbridge/libs/events"
)

// Notes records the notifications a use case sends: success and failure
// notifications (as messaging.Notifier sends them) and announcements (the
// provisioner's, recorded as successes). FailNext makes the next one fail.
type Notes struct {
	mu        sync.Mutex
	successes []string
	failures  []string
	failNext  error
}

// FailNext makes the next notification, of either kind, fail with err.
func (n *Notes) FailNext(err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.failNext = err
}

func (n *Notes) keep(list *[]string, msg string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.failNext; err != nil {
		n.failNext = nil
		return err
	}
	*list = append(*list, msg)
	return nil
}

// Success records a success notification's message.
func (n *Notes) Success(_ context.Context, _, _, msg string) error { return n.keep(&n.successes, msg) }

// Failure records a failure notification's message.
func (n *Notes) Failure(_ context.Context, _, _, msg string) error { return n.keep(&n.failures, msg) }

// Announce records an announcement's message as a success.
func (n *Notes) Announce(_ context.Context, note events.Notification) error {
	return n.keep(&n.successes, note.Message)
}

// Sent returns the messages recorded so far.
func (n *Notes) Sent() (successes, failures []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.successes), slices.Clone(n.failures)
}
