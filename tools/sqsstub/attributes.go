package sqsstub

import (
	"encoding/json"
	"maps"
	"strconv"
	"strings"
	"time"
)

// settable are the attributes CreateQueue and SetQueueAttributes accept,
// with the default a new queue gets (empty: not set). Attributes the stub
// only stores and echoes (policies, encryption) are accepted so that
// infrastructure code written for AWS runs unchanged.
var settable = map[string]string{
	"VisibilityTimeout":             "30",
	"MessageRetentionPeriod":        "345600",
	"DelaySeconds":                  "0",
	"ReceiveMessageWaitTimeSeconds": "0",
	"MaximumMessageSize":            "262144",
	"RedrivePolicy":                 "",
	"RedriveAllowPolicy":            "",
	"Policy":                        "",
	"KmsMasterKeyId":                "",
	"KmsDataKeyReusePeriodSeconds":  "",
	"SqsManagedSseEnabled":          "",
}

// fifoOnly are the attributes only FIFO queues have, with their defaults.
var fifoOnly = map[string]string{
	"ContentBasedDeduplication": "false",
	"DeduplicationScope":        "queue",
	"FifoThroughputLimit":       "perQueue",
}

// redrive is a parsed RedrivePolicy.
type redrive struct {
	targetARN   string
	targetName  string
	maxReceives int
}

// config is a queue's settable attributes, kept as given (to echo them)
// and parsed into the fields the queue operations read.
type config struct {
	attrs           map[string]string
	visibility      time.Duration
	wait            int
	maxSize         int
	contentDedup    bool
	dedupScopeGroup bool
	redrive         *redrive
}

// defaultAttributes are a new queue's attributes before the caller's.
func defaultAttributes(fifo bool) map[string]string {
	attrs := map[string]string{}
	for k, v := range settable {
		if v != "" {
			attrs[k] = v
		}
	}
	if fifo {
		maps.Copy(attrs, fifoOnly)
	}
	return attrs
}

// withAttributes validates changes against the queue type and returns the
// resulting configuration; the current one is left untouched on error.
func (c config) withAttributes(changes map[string]string, fifo bool) (config, *apiError) {
	attrs := maps.Clone(c.attrs)
	for k, v := range changes {
		if _, ok := settable[k]; !ok {
			if _, ok := fifoOnly[k]; !ok || !fifo {
				return c, errAttributeName(k)
			}
		}
		if v == "" && settable[k] == "" {
			delete(attrs, k) // an empty value removes an optional attribute (e.g. RedrivePolicy)
			continue
		}
		attrs[k] = v
	}
	return parseConfig(attrs)
}

func parseConfig(attrs map[string]string) (config, *apiError) {
	c := config{attrs: attrs}
	var vis int
	ints := []struct {
		name     string
		min, max int
		dst      *int
	}{
		{"VisibilityTimeout", 0, 43200, &vis},
		{"ReceiveMessageWaitTimeSeconds", 0, 20, &c.wait},
		{"MaximumMessageSize", 1024, 262144, &c.maxSize},
		{"MessageRetentionPeriod", 60, 1209600, new(int)},
		{"DelaySeconds", 0, 0, new(int)}, // delays are not implemented: refuse them rather than ignore them
	}
	for _, f := range ints {
		n, err := strconv.Atoi(attrs[f.name])
		if err != nil || n < f.min || n > f.max {
			return c, errAttributeValue("Invalid value for the parameter %s: %q (allowed %d to %d).", f.name, attrs[f.name], f.min, f.max)
		}
		*f.dst = n
	}
	c.visibility = time.Duration(vis) * time.Second
	c.contentDedup = attrs["ContentBasedDeduplication"] == "true"
	c.dedupScopeGroup = attrs["DeduplicationScope"] == "messageGroup"
	if p, ok := attrs["RedrivePolicy"]; ok {
		r, err := parseRedrive(p)
		if err != nil {
			return c, err
		}
		c.redrive = r
		attrs["RedrivePolicy"] = r.json()
	}
	return c, nil
}

// parseRedrive accepts maxReceiveCount as a number or a string (both are
// seen in the wild) and normalises to AWS's form.
func parseRedrive(policy string) (*redrive, *apiError) {
	var p struct {
		Target string          `json:"deadLetterTargetArn"`
		Max    json.RawMessage `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(policy), &p); err != nil {
		return nil, errAttributeValue("Invalid value for the parameter RedrivePolicy: %v", err)
	}
	n, err := strconv.Atoi(strings.Trim(string(p.Max), `"`))
	if err != nil || n < 1 || n > 1000 || !strings.HasPrefix(p.Target, "arn:aws:sqs:") {
		return nil, errAttributeValue("Invalid value for the parameter RedrivePolicy: %s", policy)
	}
	return &redrive{targetARN: p.Target, targetName: p.Target[strings.LastIndex(p.Target, ":")+1:], maxReceives: n}, nil
}

func (r *redrive) json() string {
	b, _ := json.Marshal(struct {
		Target string `json:"deadLetterTargetArn"`
		Max    int    `json:"maxReceiveCount"`
	}{r.targetARN, r.maxReceives})
	return string(b)
}

// matches reports whether every attribute in want has that value already,
// CreateQueue's test for "the same queue".
func (c config) matches(want map[string]string, fifo bool) bool {
	next, err := c.withAttributes(want, fifo)
	return err == nil && maps.Equal(next.attrs, c.attrs)
}
