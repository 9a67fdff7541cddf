package sqsstub

import (
	"net/http"
	"time"
)

// handler serves one operation: it decodes the request and returns the
// response body or an SQS error.
type handler func(s *Server, r *http.Request) (any, *apiError)

// handlers are the operations simbridge's code and Watermill use.
var handlers = map[string]handler{
	"CreateQueue":             (*Server).createQueue,
	"GetQueueUrl":             (*Server).getQueueURL,
	"GetQueueAttributes":      (*Server).getQueueAttributes,
	"SetQueueAttributes":      (*Server).setQueueAttributes,
	"SendMessage":             (*Server).sendMessage,
	"ReceiveMessage":          (*Server).receiveMessage,
	"DeleteMessage":           (*Server).deleteMessage,
	"ChangeMessageVisibility": (*Server).changeMessageVisibility,
}

func (s *Server) createQueue(r *http.Request) (any, *apiError) {
	var in createQueueIn
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	q, err := s.create(in.QueueName, in.Attributes, time.Now())
	if err != nil {
		return nil, err
	}
	return queueURLOut{QueueUrl: s.queueURL(r, q)}, nil
}

func (s *Server) getQueueURL(r *http.Request) (any, *apiError) {
	var in getQueueURLIn
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	q, err := s.byName(in.QueueName)
	if err != nil {
		return nil, err
	}
	return queueURLOut{QueueUrl: s.queueURL(r, q)}, nil
}

func (s *Server) getQueueAttributes(r *http.Request) (any, *apiError) {
	var in getAttributesIn
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	q, err := s.byURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	attrs, err := q.attributes(in.AttributeNames, time.Now())
	return attributesOut{Attributes: attrs}, err
}

func (s *Server) setQueueAttributes(r *http.Request) (any, *apiError) {
	var in setAttributesIn
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	q, err := s.byURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	return struct{}{}, q.setAttributes(in.Attributes, s.checkRedrive, time.Now())
}

func (s *Server) sendMessage(r *http.Request) (any, *apiError) {
	var in sendIn
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	q, err := s.byURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	return q.send(&in, s.ids, time.Now())
}

func (s *Server) receiveMessage(r *http.Request) (any, *apiError) {
	var in receiveIn
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	q, err := s.byURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	p, err := q.receiveParams(&in)
	if err != nil {
		return nil, err
	}
	got := s.receive(r.Context(), q, p)
	return q.render(got, &in), nil
}

func (s *Server) deleteMessage(r *http.Request) (any, *apiError) {
	var in deleteIn
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	q, err := s.byURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	return struct{}{}, q.deleteMessage(in.ReceiptHandle, time.Now())
}

func (s *Server) changeMessageVisibility(r *http.Request) (any, *apiError) {
	var in changeVisibilityIn
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	q, err := s.byURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if in.VisibilityTimeout == nil {
		return nil, errMissing("VisibilityTimeout")
	}
	return struct{}{}, q.changeVisibility(in.ReceiptHandle, *in.VisibilityTimeout, time.Now())
}
