package app

import (
	"sync"
	"time"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simrec"
)

// Real time makes two changes of one SIM a second apart ordinary (added,
// then its first PDP context; enabled, then disabled again), so a change
// is often computed while the command of the previous one is still in a
// queue. Both would carry the same base version, and whichever consumer
// wrote first would win, possibly the older truth. This process therefore
// remembers the commands it published until the record shows them:
//
//  1. A change computed while such a command is pending is computed
//     against the state that command will leave (expected), and names it as
//     its BaseCommand. simrec.Record.Admits then lets the new command
//     through in either delivery order: before the pending one writes (same
//     version), or after it (LastCommand is the one it names). The pending
//     one, landing second, is stale.
//  2. A SIM with no record yet, whose create is pending, has no version to
//     build on: unless 1NCE still says what the create says, the targeted
//     sync waits (SettleTimeout) for the create to write its record, and
//     then computes against it.
//  3. A full sync drops the changes of SIMs that a targeted sync published
//     a command for after the full run began: that lookup is newer than the
//     listing, and the next full sync sees the result.
//
// The memory is per process: with several replicas, a hint and a full sync
// on different replicas race as before (the next full sync repairs).

// inflightTTL bounds how long a published command is remembered; a command
// still not visible after that was dropped or is stuck in a DLQ.
const inflightTTL = 5 * time.Minute

// maxInflight bounds the commands remembered: a first full sync of a large
// account publishes one per SIM, far more than hints can race with, and
// memory must not grow with the fleet. Beyond it the oldest are forgotten; a
// hint about a SIM whose forgotten create is still queued waits for its
// record (step 2) or, if its record exists, builds on it.
const maxInflight = 20_000

// pendingCommand is a published command the store may not show yet.
type pendingCommand struct {
	cmd events.SimCommand
	at  time.Time
}

// inflight is the memory of published commands, by ICCID, with the order
// they were added in (for forgetting the oldest).
type inflight struct {
	mu    sync.Mutex
	m     map[string]pendingCommand
	order []added
}

// added is one add, in order.
type added struct {
	iccid string
	at    time.Time
}

// add remembers a published command.
func (f *inflight) add(cmd events.SimCommand, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string]pendingCommand{}
	}
	f.m[cmd.ICCID] = pendingCommand{cmd: cmd, at: at}
	f.order = append(f.order, added{cmd.ICCID, at})
	for len(f.m) > maxInflight && len(f.order) > 0 {
		if oldest := f.order[0]; f.m[oldest.iccid].at.Equal(oldest.at) {
			delete(f.m, oldest.iccid)
		}
		f.order = f.order[1:]
	}
	if len(f.order) > 2*maxInflight {
		f.compactLocked()
	}
}

// compactLocked drops the order's entries of commands forgotten or replaced
// since.
func (f *inflight) compactLocked() {
	kept := make([]added, 0, len(f.m))
	for _, a := range f.order {
		if p, ok := f.m[a.iccid]; ok && p.at.Equal(a.at) {
			kept = append(kept, a)
		}
	}
	f.order = kept
}

// pending returns the command published for iccid that the record (found
// or not) does not show yet, if any.
func (f *inflight) pending(iccid string, rec simrec.Record, found bool, now time.Time) (events.SimCommand, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.m[iccid]
	if !ok {
		return events.SimCommand{}, false
	}
	if now.Sub(p.at) > inflightTTL || shows(rec, found, p.cmd) {
		delete(f.m, iccid)
		return events.SimCommand{}, false
	}
	return p.cmd, true
}

// publishedSince reports whether a command for iccid was published after t.
func (f *inflight) publishedSince(iccid string, t time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.m[iccid]
	return ok && p.at.After(t)
}

// shows reports whether the record has moved past the state cmd was
// computed against: cmd wrote it, or something else did (then cmd is stale).
func shows(rec simrec.Record, found bool, cmd events.SimCommand) bool {
	if !found {
		return cmd.BaseVersion > 0 // a record cmd was computed against is gone: nothing to build on
	}
	return rec.Version != cmd.BaseVersion || rec.LastCommand == cmd.CommandID()
}

// expected is the reconciler's view of a record once cmd has been applied;
// changes computed from it name cmd as their base command.
func expected(l simrec.Summary, cmd events.SimCommand) simrec.Summary {
	l.LastCommand = cmd.CommandID()
	switch cmd.Kind {
	case events.KindCreate, events.KindUpdate, events.KindReissue:
		l.IP, l.Active, l.State, l.Status = cmd.IP, true, simrec.StateActive, cmd.Status
	case events.KindDisable:
		l.Active, l.State = false, simrec.StateDisabled
		if cmd.Status != "" {
			l.Status = cmd.Status
		}
	case events.KindRevoke:
		l.Active, l.State = false, simrec.StateRevoked
	}
	return l
}
