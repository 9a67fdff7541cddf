package sqsstub

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// dedupInterval is how long SQS remembers a FIFO deduplication id.
const dedupInterval = 5 * time.Minute

// dedupEntry remembers an accepted send, so a duplicate gets its answer.
type dedupEntry struct {
	key   string
	until time.Time
	out   sendOut
}

// dedupWindow holds the deduplication ids of the last five minutes. Entries
// are added in time order, so expired ones are dropped from the front.
type dedupWindow struct {
	byID  map[string]*dedupEntry
	order []*dedupEntry
	head  int
}

func (d *dedupWindow) lookup(key string, now time.Time) (*dedupEntry, bool) {
	for d.head < len(d.order) && !d.order[d.head].until.After(now) {
		e := d.order[d.head]
		if d.byID[e.key] == e {
			delete(d.byID, e.key)
		}
		d.order[d.head] = nil
		d.head++
	}
	if d.head > 1024 && d.head*2 > len(d.order) {
		d.order = append([]*dedupEntry(nil), d.order[d.head:]...)
		d.head = 0
	}
	e, ok := d.byID[key]
	return e, ok
}

func (d *dedupWindow) add(e *dedupEntry) {
	d.byID[e.key] = e
	d.order = append(d.order, e)
}

// send validates and stores one message; a FIFO duplicate within the
// deduplication interval is dropped and answered like the original.
func (q *queue) send(in *sendIn, ids *idSource, now time.Time) (sendOut, *apiError) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.validateSend(in); err != nil {
		return sendOut{}, err
	}
	dedupID := in.MessageDeduplicationId
	if q.fifo && dedupID == "" {
		sum := sha256.Sum256([]byte(in.MessageBody))
		dedupID = hex.EncodeToString(sum[:]) // content-based (validateSend checked it is enabled)
	}
	key := dedupID
	if q.cfg.dedupScopeGroup {
		key = in.MessageGroupId + "\x00" + dedupID
	}
	if q.fifo {
		if e, dup := q.dedup.lookup(key, now); dup {
			// The original's id, but checksums of this request's body and
			// attributes: the SDK verifies them against what it sent.
			out := e.out
			out.MD5OfMessageBody, out.MD5OfMessageAttributes = md5Hex(in.MessageBody), attributesMD5(in.MessageAttributes)
			return out, nil
		}
	}
	m := &message{id: ids.messageID(), body: in.MessageBody, bodyMD5: md5Hex(in.MessageBody), attrs: in.MessageAttributes,
		attrsMD5: attributesMD5(in.MessageAttributes), sent: now}
	out := sendOut{MessageId: m.id, MD5OfMessageBody: m.bodyMD5, MD5OfMessageAttributes: m.attrsMD5}
	groupKey := m.id
	if q.fifo {
		q.seq++
		m.groupID, m.dedupID, m.seq = in.MessageGroupId, dedupID, fmt.Sprintf("%020d", q.seq)
		out.SequenceNumber, groupKey = m.seq, m.groupID
		q.dedup.add(&dedupEntry{key: key, until: now.Add(dedupInterval), out: out})
	}
	q.append(m, groupKey)
	return out, nil
}

func (q *queue) validateSend(in *sendIn) *apiError {
	switch {
	case in.MessageBody == "":
		return errMissing("MessageBody")
	case len(in.MessageBody) > q.cfg.maxSize:
		return errParameter("One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", q.cfg.maxSize)
	case in.DelaySeconds != 0:
		return errParameter("Value %d for parameter DelaySeconds is invalid: sqsstub does not implement delays.", in.DelaySeconds)
	case len(in.MessageAttributes) > 10:
		return errParameter("Number of message attributes [%d] exceeds the allowed maximum [10].", len(in.MessageAttributes))
	case !q.fifo && (in.MessageDeduplicationId != ""):
		return errParameter("The request include parameter that is not valid for this queue type: MessageDeduplicationId.")
	case q.fifo && in.MessageGroupId == "":
		return errMissing("MessageGroupId")
	case q.fifo && in.MessageDeduplicationId == "" && !q.cfg.contentDedup:
		return errParameter("The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly")
	}
	for name, a := range in.MessageAttributes {
		if a.DataType == "" || (a.StringValue == nil && a.BinaryValue == nil) {
			return errParameter("The message attribute '%s' must contain a non-empty value of type '%s'.", name, a.DataType)
		}
	}
	return nil
}

// accept stores a message moved here from a source queue's redrive,
// keeping its id, body, attributes and group; no deduplication applies.
func (q *queue) accept(moved []*message) {
	if len(moved) == 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, old := range moved {
		m := &message{id: old.id, body: old.body, bodyMD5: old.bodyMD5, attrs: old.attrs, attrsMD5: old.attrsMD5,
			groupID: old.groupID, dedupID: old.dedupID, sent: old.sent}
		groupKey := m.id
		if q.fifo {
			q.seq++
			m.seq, groupKey = fmt.Sprintf("%020d", q.seq), m.groupID
		}
		q.append(m, groupKey)
	}
}
