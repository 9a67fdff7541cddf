package sqsstub

import (
	"container/heap"
	"container/list"
	"sync"
	"time"
)

// queue is one SQS queue. Every operation is O(1) or O(log n) in the number
// of messages: messages wait in per-group lists, groups that may deliver
// wait in the ready list, and messages in flight sit in a heap ordered by
// the time they become visible again. A standard queue is a FIFO queue in
// which every message is a group of its own.
type queue struct {
	name, path, arn string
	fifo            bool
	created         time.Time

	mu       sync.Mutex
	cfg      config
	modified time.Time
	groups   map[string]*group
	ready    list.List // of *group: has messages, none in flight
	inflight inflightHeap
	receipts map[string]*message
	dedup    dedupWindow
	visible  int // messages not in flight
	seq      uint64
	wake     chan struct{} // closed when a group becomes ready; nil without waiters
}

// group is one message group, its messages in send order.
type group struct {
	id        string
	msgs      list.List // of *message
	inflight  int
	readyElem *list.Element // position in queue.ready, nil when not ready
}

// message is one stored message. attrs is never modified after the send,
// so deliveries share it.
type message struct {
	id, body, bodyMD5 string
	attrs             map[string]attrValue
	attrsMD5          string
	groupID, dedupID  string
	seq               string
	sent, firstRecv   time.Time
	receives          int
	receipt           string
	visibleAt         time.Time
	heapIdx           int // index in queue.inflight, -1 when visible
	elem              *list.Element
	grp               *group
}

func newQueue(name, path, arn string, fifo bool, cfg config, now time.Time) *queue {
	q := &queue{name: name, path: path, arn: arn, fifo: fifo, created: now, modified: now, cfg: cfg,
		groups: map[string]*group{}, receipts: map[string]*message{}}
	q.dedup.byID = map[string]*dedupEntry{}
	return q
}

// append stores m at the end of its group (creating the group), making the
// group ready if nothing of it is in flight. Called with q.mu held.
func (q *queue) append(m *message, groupKey string) {
	g := q.groups[groupKey]
	if g == nil {
		g = &group{id: groupKey}
		q.groups[groupKey] = g
	}
	m.grp, m.heapIdx = g, -1
	m.elem = g.msgs.PushBack(m)
	q.visible++
	q.markReady(g)
}

// markReady puts g in the ready list if it can deliver and wakes long
// polls. Called with q.mu held.
func (q *queue) markReady(g *group) {
	if g.readyElem != nil || g.inflight > 0 || g.msgs.Len() == 0 {
		return
	}
	g.readyElem = q.ready.PushBack(g)
	if q.wake != nil {
		close(q.wake)
		q.wake = nil
	}
}

// remove deletes m from the queue wherever it is. Called with q.mu held.
func (q *queue) remove(m *message) {
	g := m.grp
	if m.heapIdx >= 0 {
		heap.Remove(&q.inflight, m.heapIdx)
		g.inflight--
	} else {
		q.visible--
	}
	delete(q.receipts, m.receipt)
	g.msgs.Remove(m.elem)
	if g.msgs.Len() == 0 && g.inflight == 0 {
		if g.readyElem != nil {
			q.ready.Remove(g.readyElem)
		}
		delete(q.groups, g.id)
		return
	}
	q.markReady(g)
}

// expire returns every message whose visibility timeout has passed. Its
// receipt handle stays valid for DeleteMessage until it is received again.
// Called with q.mu held.
func (q *queue) expire(now time.Time) {
	for len(q.inflight) > 0 && !q.inflight[0].visibleAt.After(now) {
		q.makeVisible(heap.Pop(&q.inflight).(*message))
	}
}

func (q *queue) makeVisible(m *message) {
	m.heapIdx = -1
	m.grp.inflight--
	q.visible++
	q.markReady(m.grp)
}

// nextExpiry is when the next message in flight becomes visible (zero if
// none). Called with q.mu held.
func (q *queue) nextExpiry() time.Time {
	if len(q.inflight) == 0 {
		return time.Time{}
	}
	return q.inflight[0].visibleAt
}

// waitChan returns a channel closed when a group next becomes ready.
// Called with q.mu held.
func (q *queue) waitChan() <-chan struct{} {
	if q.wake == nil {
		q.wake = make(chan struct{})
	}
	return q.wake
}

// inflightHeap orders messages in flight by the time they become visible.
type inflightHeap []*message

func (h inflightHeap) Len() int           { return len(h) }
func (h inflightHeap) Less(i, j int) bool { return h[i].visibleAt.Before(h[j].visibleAt) }
func (h inflightHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx, h[j].heapIdx = i, j
}
func (h *inflightHeap) Push(x any) {
	m := x.(*message)
	m.heapIdx = len(*h)
	*h = append(*h, m)
}
func (h *inflightHeap) Pop() any {
	old := *h
	m := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	m.heapIdx = -1
	return m
}
