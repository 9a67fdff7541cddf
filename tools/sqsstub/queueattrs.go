package sqsstub

import (
	"strconv"
	"time"
)

// readOnly are the attributes GetQueueAttributes knows besides the
// settable ones.
var readOnly = []string{"QueueArn", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
	"ApproximateNumberOfMessagesDelayed", "CreatedTimestamp", "LastModifiedTimestamp", "FifoQueue"}

// attributes answers GetQueueAttributes for names ("All" for every one).
func (q *queue) attributes(names []string, now time.Time) (map[string]string, *apiError) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.expire(now)
	all := map[string]string{
		"QueueArn":                              q.arn,
		"ApproximateNumberOfMessages":           strconv.Itoa(q.visible),
		"ApproximateNumberOfMessagesNotVisible": strconv.Itoa(len(q.inflight)),
		"ApproximateNumberOfMessagesDelayed":    "0",
		"CreatedTimestamp":                      strconv.FormatInt(q.created.Unix(), 10),
		"LastModifiedTimestamp":                 strconv.FormatInt(q.modified.Unix(), 10),
	}
	if q.fifo {
		all["FifoQueue"] = "true"
	}
	for k, v := range q.cfg.attrs {
		all[k] = v
	}
	out := map[string]string{}
	for _, n := range names {
		if n == "All" {
			return all, nil
		}
		if !knownAttribute(n) {
			return nil, errAttributeName(n)
		}
		if v, ok := all[n]; ok {
			out[n] = v
		}
	}
	return out, nil
}

func knownAttribute(name string) bool {
	_, ok := settable[name]
	_, fifo := fifoOnly[name]
	for _, r := range readOnly {
		ok = ok || r == name
	}
	return ok || fifo
}

// setAttributes applies SetQueueAttributes; check validates a redrive
// policy against the server's queues.
func (q *queue) setAttributes(changes map[string]string, check func(config, bool) *apiError, now time.Time) *apiError {
	if _, ok := changes["FifoQueue"]; ok {
		return errAttributeName("FifoQueue")
	}
	q.mu.Lock()
	cfg, err := q.cfg.withAttributes(changes, q.fifo)
	q.mu.Unlock()
	if err == nil {
		err = check(cfg, q.fifo) // not under q.mu: it takes the server's lock
	}
	if err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	cfg, err = q.cfg.withAttributes(changes, q.fifo) // again, in case of a concurrent change
	if err != nil {
		return err
	}
	q.cfg, q.modified = cfg, now
	return nil
}
