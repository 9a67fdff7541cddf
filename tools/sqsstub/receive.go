package sqsstub

import (
	"container/heap"
	"strconv"
	"strings"
	"time"
)

// delivery is a received message as it was at the time of the receive,
// so it can be rendered after the queue's lock is released.
type delivery struct {
	m                *message
	receipt          string
	receives         int
	sent, firstRecv  time.Time
	groupID, dedupID string
	seq              string
}

// take receives up to max messages: groups in the order they became ready,
// as many consecutive messages of one group as fit (like SQS), each hidden
// for vis. A message already received as often as the redrive policy
// allows is removed and returned in moved, for the dead-letter queue (only
// when there is one: redrive false keeps it). Called with q.mu held.
func (q *queue) take(max int, vis time.Duration, redrive bool, now time.Time, ids *idSource) (got []delivery, moved []*message) {
	q.expire(now)
	for len(got) < max && q.ready.Len() > 0 {
		g := q.ready.Remove(q.ready.Front()).(*group)
		g.readyElem = nil
		for e := g.msgs.Front(); e != nil && len(got) < max; {
			m := e.Value.(*message)
			e = e.Next()
			if r := q.cfg.redrive; redrive && r != nil && m.receives >= r.maxReceives {
				q.remove(m)
				moved = append(moved, m)
				continue
			}
			got = append(got, q.deliver(m, vis, now, ids))
		}
		q.markReady(g) // still ready if everything taken was moved to the DLQ
	}
	return got, moved
}

// deliver hides m for vis and gives it a new receipt handle.
func (q *queue) deliver(m *message, vis time.Duration, now time.Time, ids *idSource) delivery {
	delete(q.receipts, m.receipt)
	m.receives++
	if m.receives == 1 {
		m.firstRecv = now
	}
	m.receipt = ids.receipt(q.name, m.id)
	q.receipts[m.receipt] = m
	m.visibleAt = now.Add(vis)
	heap.Push(&q.inflight, m)
	m.grp.inflight++
	q.visible--
	return delivery{m: m, receipt: m.receipt, receives: m.receives, sent: m.sent, firstRecv: m.firstRecv,
		groupID: m.groupID, dedupID: m.dedupID, seq: m.seq}
}

// deleteMessage removes the message a receipt handle names. A well-formed
// handle of a message already gone is not an error (as in SQS).
func (q *queue) deleteMessage(handle string, now time.Time) *apiError {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.expire(now)
	m, ok := q.receipts[handle]
	if !ok {
		if !strings.HasPrefix(handle, receiptPrefix) {
			return errReceiptInvalid(handle)
		}
		return nil
	}
	q.remove(m)
	return nil
}

// changeVisibility sets how long an in-flight message stays hidden,
// counted from now; 0 makes it visible at once.
func (q *queue) changeVisibility(handle string, seconds int, now time.Time) *apiError {
	if seconds < 0 || seconds > 43200 {
		return errParameter("Value %d for parameter VisibilityTimeout is invalid. Reason: must be between 0 and 43200.", seconds)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.expire(now)
	m, ok := q.receipts[handle]
	if !ok {
		return errReceiptInvalid(handle)
	}
	if m.heapIdx < 0 {
		return errNotInflight()
	}
	if seconds == 0 {
		heap.Remove(&q.inflight, m.heapIdx)
		q.makeVisible(m)
		return nil
	}
	m.visibleAt = now.Add(time.Duration(seconds) * time.Second)
	heap.Fix(&q.inflight, m.heapIdx)
	return nil
}

// systemAttributes renders the requested system attributes of d.
func (q *queue) systemAttributes(d delivery, names map[string]bool) map[string]string {
	all := names["All"]
	out := map[string]string{}
	put := func(name, value string) {
		if (all || names[name]) && value != "" {
			out[name] = value
		}
	}
	put("ApproximateReceiveCount", strconv.Itoa(d.receives))
	put("ApproximateFirstReceiveTimestamp", millis(d.firstRecv))
	put("SentTimestamp", millis(d.sent))
	put("SenderId", "AIDAIT2UOQQY3AUEKVGXU")
	if q.fifo {
		put("MessageGroupId", d.groupID)
		put("MessageDeduplicationId", d.dedupID)
		put("SequenceNumber", d.seq)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func millis(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// selectAttributes returns the message attributes a receive asked for:
// "All" or ".*", exact names, or prefixes written "prefix.*".
func selectAttributes(attrs map[string]attrValue, names []string) map[string]attrValue {
	if len(attrs) == 0 || len(names) == 0 {
		return nil
	}
	out := map[string]attrValue{}
	for name, v := range attrs {
		for _, want := range names {
			prefix, wildcard := strings.CutSuffix(want, ".*")
			if want == "All" || want == ".*" || want == name || (wildcard && strings.HasPrefix(name, prefix+".")) {
				out[name] = v
				break
			}
		}
	}
	return out
}
