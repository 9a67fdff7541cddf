// Package adapters connects onboarding-api to what it calls besides the
// SIM table and KMS (libs/simstore, libs/keyseal): IoT Core's endpoint, and
// the record of when each device last fetched its credentials.
package adapters

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// FetchStore writes a SIM's last credentials fetch.
type FetchStore interface {
	RecordFetch(ctx context.Context, iccid string, at time.Time) error
}

// FetchLog records when each device last fetched its credentials, off the
// request path: Note never blocks an answer (a full buffer drops the note),
// writes happen in the background, at most one per SIM per Interval, so a
// modem downloading in chunks, or retrying, costs one write a minute.
type FetchLog struct {
	store    FetchStore
	interval time.Duration
	notes    chan note
	logger   *slog.Logger
	now      func() time.Time

	mu      sync.Mutex
	written map[string]time.Time
}

type note struct {
	iccid string
	at    time.Time
}

// NewFetchLog returns a log writing through store; call Run.
func NewFetchLog(store FetchStore, interval time.Duration, logger *slog.Logger) *FetchLog {
	return &FetchLog{store: store, interval: interval, notes: make(chan note, 4096), logger: logger,
		now: time.Now, written: map[string]time.Time{}}
}

// Note records that the device of iccid fetched its credentials now.
func (l *FetchLog) Note(iccid string) {
	at := l.now()
	l.mu.Lock()
	last, ok := l.written[iccid]
	l.mu.Unlock()
	if ok && at.Sub(last) < l.interval {
		return
	}
	select {
	case l.notes <- note{iccid: iccid, at: at}:
	default: // never slow an answer down; the next fetch notes it again
	}
}

// Run writes notes until ctx ends, then writes what is queued (bounded by
// the caller's shutdown) and returns.
func (l *FetchLog) Run(ctx context.Context) {
	tick := time.NewTicker(l.interval)
	defer tick.Stop()
	for {
		select {
		case n := <-l.notes:
			l.write(ctx, n)
		case <-tick.C:
			l.forget()
		case <-ctx.Done():
			l.drain(context.WithoutCancel(ctx))
			return
		}
	}
}

func (l *FetchLog) write(ctx context.Context, n note) {
	l.mu.Lock()
	last, ok := l.written[n.iccid]
	if ok && n.at.Sub(last) < l.interval {
		l.mu.Unlock()
		return
	}
	l.written[n.iccid] = n.at
	l.mu.Unlock()
	if err := l.store.RecordFetch(ctx, n.iccid, n.at); err != nil {
		l.logger.Warn("credentials fetch not recorded", "iccid", n.iccid, "error", err)
	}
}

// forget drops what no longer throttles writes, so memory stays bounded by
// the SIMs that fetched within one interval.
func (l *FetchLog) forget() {
	cutoff := l.now().Add(-l.interval)
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, at := range l.written {
		if at.Before(cutoff) {
			delete(l.written, id)
		}
	}
}

func (l *FetchLog) drain(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for {
		select {
		case n := <-l.notes:
			l.write(ctx, n)
		default:
			return
		}
	}
}
