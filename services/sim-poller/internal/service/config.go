// Package service is sim-poller's composition root: configuration
// (config.go), every metric (metrics.go), and the clients, adapters, use
// cases and servers built and stopped together (service.go).
package service

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/secrets"
	"github.com/simbridge/simbridge/services/sim-poller/internal/ports"
)

// Config is sim-poller's whole configuration, read from the environment.
type Config struct {
	// HTTPAddr serves POST /sync (operators, schedulers, tests).
	HTTPAddr string `env:"HTTP_ADDR, default=:8080" desc:"POST /sync[?force=true] runs a sync now and answers its summary"`
	// OpsAddr serves /metrics, /healthz and /readyz.
	OpsAddr         string        `env:"OPS_ADDR, default=:9090" desc:"/metrics, /healthz and /readyz (never on the public port)"`
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT, default=25s" desc:"time in-flight work may take after SIGTERM (ECS stops after 30 s)"`

	OnceAPIURL    string         `env:"ONCE_API_URL, default=https://api.1nce.com/management-api" desc:"1NCE Management API base URL"`
	OnceUsername  string         `env:"ONCE_USERNAME, required" desc:"1NCE API user"`
	OncePassword  secrets.Source `env:", prefix=ONCE_PASSWORD_" desc:"1NCE API password (exactly one source)"`
	OnceRateLimit float64        `env:"ONCE_RATE_LIMIT, default=10" desc:"client-side requests per second to the 1NCE API"`
	OncePageSize  int            `env:"ONCE_PAGE_SIZE, default=100" desc:"SIMs per page (1-100)"`

	// SyncInterval is the schedule unless SyncSchedule (a cron expression) is set.
	SyncInterval time.Duration `env:"SYNC_INTERVAL, default=15m" desc:"time between scheduled syncs"`
	SyncSchedule string        `env:"SYNC_SCHEDULE" desc:"cron expression replacing SYNC_INTERVAL (UTC unless CRON_TZ=...)"`
	SyncOnStart  bool          `env:"SYNC_ON_START, default=true" desc:"run a sync at start"`
	// SyncTimeout bounds one run (and how long POST /sync may take to answer):
	// at 1NCE's 10 requests/s, 100,000 SIMs take 100 s to list. A larger
	// account stretches it (app.Syncer.RunTimeout): 1,000,000 SIMs need
	// 10,000 pages, 33 minutes at the listing's share of the rate.
	SyncTimeout time.Duration `env:"SYNC_TIMEOUT, default=30m" desc:"longest run, stretched to 1.5 × the last listing's pages at the listing's share of ONCE_RATE_LIMIT + 5 min when that is longer; POST /sync answers within it"`
	// MaxDisableShare and DisableAllowance configure the mass-disable guard:
	// a run may disable at most max(share × active SIMs, allowance) SIMs.
	MaxDisableShare  float64 `env:"MAX_DISABLE_SHARE, default=0.1" desc:"largest share of active SIMs one run may disable"`
	DisableAllowance int     `env:"DISABLE_ALLOWANCE, default=5" desc:"disables always allowed per run (small fleets)"`
	// Publishers is how many commands are sent to SQS concurrently.
	Publishers int `env:"PUBLISHERS, default=16" desc:"commands sent to SQS concurrently"`
	// LeaseTTL is how long a crashed replica's lease blocks the others.
	LeaseTTL time.Duration `env:"LEASE_TTL, default=30s" desc:"how long a crashed replica's lease blocks the others"`

	// The 1NCE Data Streamer receiver (README "Real time"): off unless
	// StreamAddr is set; in AWS it is the stack's only public entry, behind
	// HTTPS (API Gateway).
	StreamAddr        string         `env:"STREAM_ADDR" desc:"address of the 1NCE Data Streamer receiver (empty: no receiver)"`
	StreamPath        string         `env:"STREAM_PATH, default=/datastreamer" desc:"path the Data Streamer posts to"`
	StreamAuth        secrets.Source `env:", prefix=STREAM_AUTH_" desc:"Data Streamer Basic credentials, JSON {\"username\",\"password\"} or user:password (required with STREAM_ADDR)"`
	StreamAuthRefresh time.Duration  `env:"STREAM_AUTH_REFRESH, default=5m" desc:"how often the Data Streamer credentials are re-read (rotation)"`
	StreamMaxBytes    int64          `env:"STREAM_MAX_BYTES, default=8388608" desc:"largest Data Streamer request body (413 beyond); at most 10000000, what the AWS edge (API Gateway) passes"`
	StreamMaxRecords  int            `env:"STREAM_MAX_RECORDS, default=3000" desc:"most records in one Data Streamer request (413 beyond; 1NCE sends up to 3,000)"`
	StreamMaxDepth    int            `env:"STREAM_MAX_DEPTH, default=16" desc:"deepest JSON nesting of a Data Streamer request (400 beyond)"`
	// StreamEventTypes are the event types (descriptions, any case) whose
	// SIMs are looked up; other events and usage records are ignored.
	StreamEventTypes []string `env:"STREAM_EVENT_TYPES, default=Create PDP Context,SIM activation,SIM suspension,SIM deletion,SIM added,IP address changed" desc:"Data Streamer event types (descriptions) whose SIMs are looked up"`
	// StreamQuietEventTypes are the event types among StreamEventTypes that
	// cannot change a SIM's state themselves: their SIM is looked up only
	// when its record is not active at the event's IP (app/triage.go).
	StreamQuietEventTypes []string `env:"STREAM_QUIET_EVENT_TYPES, default=Create PDP Context" desc:"Data Streamer event types (among STREAM_EVENT_TYPES) that cannot change a SIM: looked up only when the record is not active at the event's IP"`
	// HintUnknownPerBatch, HintUnknownPerMinute and HintNegativeTTL bound
	// the lookups of SIMs without a record that Data Streamer events name.
	HintUnknownPerBatch  int           `env:"HINT_UNKNOWN_PER_BATCH, default=50" desc:"most SIMs without a record one Data Streamer request may look up"`
	HintUnknownPerMinute float64       `env:"HINT_UNKNOWN_PER_MINUTE, default=120" desc:"most SIMs without a record Data Streamer events may look up a minute (the next full sync finds the rest)"`
	HintNegativeTTL      time.Duration `env:"HINT_NEGATIVE_TTL, default=1m" desc:"how long a SIM 1NCE said it does not hold is not looked up again for an event"`
	StreamEnqueueTimeout time.Duration `env:"STREAM_ENQUEUE_TIMEOUT, default=10s" desc:"longest wait for SQS before answering 503 (1NCE sends the batch again)"`
	StreamMaxConcurrent  int           `env:"STREAM_MAX_CONCURRENT, default=4" desc:"Data Streamer requests processed at once (503 beyond)"`

	SimTable     string `env:"SIM_TABLE, required" desc:"DynamoDB table of SIM records"`
	LeaseTable   string `env:"LEASE_TABLE, required" desc:"DynamoDB table of the sync lease (one sync at a time)"`
	CreateQueue  string `env:"CREATE_QUEUE, required" desc:"SQS FIFO queue receiving create commands (certificate work)"`
	UpdateQueue  string `env:"UPDATE_QUEUE, required" desc:"SQS FIFO queue receiving IP moves (the provisioner's cheap lane)"`
	DisableQueue string `env:"DISABLE_QUEUE, required" desc:"SQS FIFO queue receiving disable commands"`
	// SyncQueue carries sync requests: operators' (simbridge sync) and the
	// Data Streamer's hints.
	SyncQueue   string `env:"SYNC_QUEUE, required" desc:"SQS FIFO queue of sync requests (operators' syncs, Data Streamer hints)"`
	SyncWorkers int    `env:"SYNC_WORKERS, default=8" desc:"sync requests handled at once (full syncs still run one at a time)"`
	// HintWindow is how long a targeted lookup waits for other requests
	// naming the same SIM, so they share one 1NCE question.
	HintWindow time.Duration `env:"HINT_WINDOW, default=1s" desc:"a SIM named by several requests within this time is looked up once"`
	// HintRateShare is the largest share of ONCE_RATE_LIMIT targeted
	// lookups take while a full sync lists the account.
	HintRateShare float64 `env:"HINT_RATE_SHARE, default=0.5" desc:"share of ONCE_RATE_LIMIT targeted lookups may take while a full sync lists 1NCE (0-1)"`
	// SettleTimeout bounds how long a targeted sync waits for the record
	// of a new SIM whose create is still queued (app/inflight.go).
	SettleTimeout   time.Duration `env:"SETTLE_TIMEOUT, default=30s" desc:"longest wait for the record of a new SIM whose create is still queued when 1NCE changes it again"`
	FailureTopicARN string        `env:"FAILURE_TOPIC_ARN, required" desc:"SNS topic of failure notifications"`
	// SummaryTopicARN gets one summary per sync run that changed anything
	// (operators' e-mail), instead of one success message per SIM.
	SummaryTopicARN string `env:"SUMMARY_TOPIC_ARN" desc:"SNS topic of one summary per sync run with counts (empty: none)"`
}

// Validate rejects settings that cannot work.
func (c *Config) Validate() error {
	var errs []error
	if err := c.OncePassword.Validate("ONCE_PASSWORD_"); err != nil {
		errs = append(errs, err)
	}
	if _, err := ports.ParseSchedule(c.SyncSchedule, c.SyncInterval); err != nil {
		errs = append(errs, fmt.Errorf("SYNC_SCHEDULE / SYNC_INTERVAL: %w", err))
	}
	if c.MaxDisableShare < 0 || c.MaxDisableShare > 1 {
		errs = append(errs, fmt.Errorf("MAX_DISABLE_SHARE %v: want 0-1", c.MaxDisableShare))
	}
	if c.DisableAllowance < 0 {
		errs = append(errs, errors.New("DISABLE_ALLOWANCE must not be negative"))
	}
	if c.Publishers < 1 || c.Publishers > 256 {
		errs = append(errs, fmt.Errorf("PUBLISHERS %d: want 1-256", c.Publishers))
	}
	errs = append(errs, c.validateStream()...)
	if c.SyncWorkers < 1 || c.SyncWorkers > 64 {
		errs = append(errs, fmt.Errorf("SYNC_WORKERS %d: want 1-64", c.SyncWorkers))
	}
	if c.HintWindow < 0 || c.HintWindow > time.Minute {
		errs = append(errs, fmt.Errorf("HINT_WINDOW %v: want 0-1m", c.HintWindow))
	}
	if c.HintRateShare <= 0 || c.HintRateShare > 1 {
		errs = append(errs, fmt.Errorf("HINT_RATE_SHARE %v: want more than 0, at most 1", c.HintRateShare))
	}
	if c.HintUnknownPerBatch < 0 || c.HintUnknownPerMinute < 0 || c.HintNegativeTTL < 0 {
		errs = append(errs, errors.New("HINT_UNKNOWN_PER_BATCH, HINT_UNKNOWN_PER_MINUTE and HINT_NEGATIVE_TTL must not be negative"))
	}
	if c.SettleTimeout <= 0 {
		errs = append(errs, errors.New("SETTLE_TIMEOUT must be positive"))
	}
	if c.LeaseTTL < 3*time.Second {
		errs = append(errs, fmt.Errorf("LEASE_TTL %v: at least 3s", c.LeaseTTL))
	}
	if c.SyncTimeout < time.Second {
		errs = append(errs, fmt.Errorf("SYNC_TIMEOUT %v: at least 1s", c.SyncTimeout))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("SHUTDOWN_TIMEOUT must be positive"))
	}
	return errors.Join(errs...)
}

// EdgeMaxBody is the largest request body the receiver's public edge in AWS
// passes: API Gateway's payload quota of 10 MB (docs/architecture.md, "Real
// time"). STREAM_MAX_BYTES stays within it, so a body the receiver promises
// to take is never refused by the edge with an answer of its own.
const EdgeMaxBody = 10_000_000

// validateStream checks the receiver's settings when it is on.
func (c *Config) validateStream() []error {
	if c.StreamAddr == "" {
		return nil
	}
	var errs []error
	if err := c.StreamAuth.Validate("STREAM_AUTH_"); err != nil {
		errs = append(errs, err)
	}
	if !strings.HasPrefix(c.StreamPath, "/") {
		errs = append(errs, fmt.Errorf("STREAM_PATH %q: want an absolute path", c.StreamPath))
	}
	if c.StreamMaxBytes < 1<<10 || c.StreamMaxBytes > EdgeMaxBody {
		errs = append(errs, fmt.Errorf("STREAM_MAX_BYTES %d: want 1024-%d (the edge in front of the receiver refuses larger bodies itself)",
			c.StreamMaxBytes, EdgeMaxBody))
	}
	if c.StreamMaxRecords < 1 || c.StreamMaxRecords > events.MaxSyncICCIDs {
		errs = append(errs, fmt.Errorf("STREAM_MAX_RECORDS %d: want 1-%d", c.StreamMaxRecords, events.MaxSyncICCIDs))
	}
	if c.StreamMaxDepth < 2 || c.StreamMaxDepth > 1000 {
		errs = append(errs, fmt.Errorf("STREAM_MAX_DEPTH %d: want 2-1000", c.StreamMaxDepth))
	}
	if len(c.StreamEventTypes) == 0 {
		errs = append(errs, errors.New("STREAM_EVENT_TYPES: name at least one event type"))
	}
	if c.StreamEnqueueTimeout <= 0 || c.StreamAuthRefresh <= 0 || c.StreamMaxConcurrent < 1 {
		errs = append(errs, errors.New("STREAM_ENQUEUE_TIMEOUT, STREAM_AUTH_REFRESH and STREAM_MAX_CONCURRENT must be positive"))
	}
	return errs
}
