package sqsstub

import (
	"context"
	"time"
)

// receiveParams are a ReceiveMessage request's limits, defaults applied.
type receiveParams struct {
	max  int
	vis  time.Duration
	wait time.Duration
}

func (q *queue) receiveParams(in *receiveIn) (receiveParams, *apiError) {
	q.mu.Lock()
	p := receiveParams{max: 1, vis: q.cfg.visibility, wait: time.Duration(q.cfg.wait) * time.Second}
	q.mu.Unlock()
	if n := in.MaxNumberOfMessages; n != nil {
		if *n < 1 || *n > 10 {
			return p, errParameter("Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10.", *n)
		}
		p.max = *n
	}
	if v := in.VisibilityTimeout; v != nil {
		if *v < 0 || *v > 43200 {
			return p, errParameter("Value %d for parameter VisibilityTimeout is invalid.", *v)
		}
		p.vis = time.Duration(*v) * time.Second
	}
	if w := in.WaitTimeSeconds; w != nil {
		if *w < 0 || *w > 20 {
			return p, errParameter("Value %d for parameter WaitTimeSeconds is invalid. Reason: Must be between 0 and 20.", *w)
		}
		p.wait = time.Duration(*w) * time.Second
	}
	return p, nil
}

// receive takes messages, long-polling up to p.wait for some to become
// available; messages past their receive limit go to the dead-letter queue.
func (s *Server) receive(ctx context.Context, q *queue, p receiveParams) []delivery {
	deadline := time.Now().Add(p.wait)
	for {
		dlq := s.deadLetterQueue(q)
		now := time.Now()
		q.mu.Lock()
		got, moved := q.take(p.max, p.vis, dlq != nil, now, s.ids)
		wake, next := q.waitChan(), q.nextExpiry()
		q.mu.Unlock()
		if dlq != nil {
			dlq.accept(moved)
		}
		if len(got) > 0 || !now.Before(deadline) {
			return got
		}
		wait := deadline.Sub(now)
		if !next.IsZero() && next.Sub(now) < wait {
			wait = max(next.Sub(now), time.Millisecond)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// render builds the ReceiveMessage response from the deliveries.
func (q *queue) render(got []delivery, in *receiveIn) receiveOut {
	names := map[string]bool{}
	for _, n := range append(in.MessageSystemAttributeNames, in.AttributeNames...) {
		names[n] = true
	}
	out := receiveOut{}
	for _, d := range got {
		attrs := selectAttributes(d.m.attrs, in.MessageAttributeNames)
		out.Messages = append(out.Messages, messageOut{
			MessageId: d.m.id, ReceiptHandle: d.receipt, MD5OfBody: d.m.bodyMD5, Body: d.m.body,
			Attributes: q.systemAttributes(d, names), MD5OfMessageAttributes: attributesMD5(attrs), MessageAttributes: attrs,
		})
	}
	return out
}
