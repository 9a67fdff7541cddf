// Package sqsstub is an in-memory Amazon SQS server speaking the AWS JSON
// protocol of aws-sdk-go-v2. It exists for benchmarks: moto's SQS FIFO
// costs O(n) per operation with a large constant (2,000 sends to one FIFO
// queue take 157 s), so an end-to-end benchmark on moto measures moto's
// queue. The stub keeps SQS's semantics the system relies on — FIFO order
// per message group with one group locked while it has messages in flight,
// deduplication ids for five minutes, visibility timeouts, long polling,
// redrive to a dead-letter queue, MD5 checksums — at O(log n) per
// operation. It does not implement delays, retention, batches, tags,
// permissions or queue deletion.
package sqsstub

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Options configure a server; zero values give SQS-like defaults.
type Options struct {
	// Region and AccountID appear in queue ARNs and URLs.
	Region, AccountID string
	// BaseURL prefixes queue URLs; empty uses the Host of each request, so
	// URLs work from wherever the client reached the server.
	BaseURL string
}

// Server is the http.Handler serving SQS; create it with New.
type Server struct {
	opts   Options
	ids    *idSource
	mu     sync.RWMutex
	queues map[string]*queue
}

// New returns an empty server.
func New(opts Options) *Server {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.AccountID == "" {
		opts.AccountID = "123456789012"
	}
	return &Server{opts: opts, ids: newIDSource(), queues: map[string]*queue{}}
}

// ServeHTTP dispatches on the X-Amz-Target header ("AmazonSQS.<Op>").
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
	h := handlers[op]
	if r.Method != http.MethodPost || !ok || h == nil {
		writeError(w, errUnsupported(r.Method+" "+r.Header.Get("X-Amz-Target")))
		return
	}
	w.Header().Set("x-amzn-RequestId", s.ids.messageID())
	out, err := h(s, r)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// decode reads a request body into v.
func decode(r *http.Request, v any) *apiError {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		return &apiError{"SerializationException", "SerializationException", err.Error()}
	}
	return nil
}

// queueURL is the URL of the queue at path as the requesting client sees it.
func (s *Server) queueURL(r *http.Request, q *queue) string {
	if s.opts.BaseURL != "" {
		return strings.TrimSuffix(s.opts.BaseURL, "/") + q.path
	}
	return "http://" + r.Host + q.path
}

// byName finds a queue by its name.
func (s *Server) byName(name string) (*queue, *apiError) {
	s.mu.RLock()
	q := s.queues[name]
	s.mu.RUnlock()
	if q == nil {
		return nil, errQueueDoesNotExist()
	}
	return q, nil
}

// byURL finds a queue by its URL: the last path segment is its name.
func (s *Server) byURL(url string) (*queue, *apiError) {
	if url == "" {
		return nil, errMissing("QueueUrl")
	}
	return s.byName(url[strings.LastIndex(url, "/")+1:])
}

var queueName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,75}(\.fifo)?$`)

// create adds a queue, or returns the existing one when the attributes
// given match it (CreateQueue is idempotent in SQS).
func (s *Server) create(name string, attrs map[string]string, now time.Time) (*queue, *apiError) {
	fifo := attrs["FifoQueue"] == "true"
	if !queueName.MatchString(name) || len(name) > 80 || fifo != strings.HasSuffix(name, ".fifo") {
		return nil, errParameter("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length; FIFO queue names end in .fifo and need FifoQueue=true: %q", name)
	}
	rest := map[string]string{}
	for k, v := range attrs {
		if k != "FifoQueue" {
			rest[k] = v
		}
	}
	cfg, err := config{attrs: defaultAttributes(fifo)}.withAttributes(rest, fifo)
	if err == nil {
		err = s.checkRedrive(cfg, fifo)
	}
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.queues[name]; q != nil {
		q.mu.Lock()
		defer q.mu.Unlock()
		if !q.cfg.matches(rest, fifo) || q.fifo != fifo {
			return nil, errQueueNameExists(name)
		}
		return q, nil
	}
	path := "/" + s.opts.AccountID + "/" + name
	q := newQueue(name, path, s.arn(name), fifo, cfg, now)
	s.queues[name] = q
	return q, nil
}

func (s *Server) arn(name string) string {
	return "arn:aws:sqs:" + s.opts.Region + ":" + s.opts.AccountID + ":" + name
}

// checkRedrive refuses a dead-letter queue that does not exist or is of
// the other type, as SQS does.
func (s *Server) checkRedrive(cfg config, fifo bool) *apiError {
	if cfg.redrive == nil {
		return nil
	}
	dlq, err := s.byName(cfg.redrive.targetName)
	if err != nil || dlq.arn != cfg.redrive.targetARN || dlq.fifo != fifo {
		return errParameter("Value %s for parameter RedrivePolicy is invalid. Reason: Dead-letter target does not exist or is not of the same type.", cfg.redrive.json())
	}
	return nil
}

// deadLetterQueue is q's redrive target, nil without one.
func (s *Server) deadLetterQueue(q *queue) *queue {
	q.mu.Lock()
	r := q.cfg.redrive
	q.mu.Unlock()
	if r == nil {
		return nil
	}
	dlq, _ := s.byName(r.targetName)
	return dlq
}
