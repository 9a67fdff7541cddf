package onceapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/simbridge/simbridge/libs/config"
)

// DefaultBaseURL is 1NCE's production Management API.
const DefaultBaseURL = "https://api.1nce.com/management-api"

// Errors callers branch on.
var (
	// ErrBadCredentials means 1NCE refused the account user or password; retrying cannot help.
	ErrBadCredentials = errors.New("1NCE rejected the API credentials")
	// ErrIncomplete means the listing ended early or did not add up (see
	// ListSIMs); a caller must not treat SIMs it did not see as gone.
	ErrIncomplete = errors.New("SIM listing incomplete")
	// ErrSIMNotFound means GET /v1/sims/{iccid} answered 404: the account does
	// not hold the SIM.
	ErrSIMNotFound = errors.New("SIM not found in the 1NCE account")
	// ErrInvalidResponse means 1NCE answered 200 with a body that is not the
	// documented JSON; the listing cannot be trusted, so callers treat it like
	// an incomplete one.
	ErrInvalidResponse = errors.New("1NCE answer is not valid JSON")
)

// Observer receives what the client did, for metrics; the zero value of
// Config uses a no-op.
type Observer interface {
	// Request counts one HTTP exchange by endpoint ("token", "sims" for the
	// listing, "sim" for GetSIM) and status
	// ("200", "429", "error" for a transport failure, "invalid_json" for a 200
	// whose body could not be decoded).
	Request(endpoint, status string)
	// Retry counts one retry by endpoint and reason ("429", "500", "401",
	// "transport", "invalid_json").
	Retry(endpoint, reason string)
}

// Config configures a Client.
type Config struct {
	BaseURL  string
	Username string
	Password config.Secret
	// PageSize is the pageSize query parameter (1-100, default 100).
	PageSize int
	// RateLimit is the client-side limit in requests per second (default 10,
	// 1NCE's limit for /v1/sims).
	RateLimit float64
	// MaxPages bounds a listing so a misbehaving API can never loop it
	// forever (default 100,000 pages: ten million SIMs at 100 a page); a
	// longer listing is incomplete.
	MaxPages int
	// MaxTries bounds attempts per request (default 6).
	MaxTries uint
	// MaxElapsed bounds the time spent retrying one request (default 2 min).
	MaxElapsed time.Duration
	HTTPClient *http.Client
	Observer   Observer
}

// Client calls the 1NCE Management API with a cached token, a client-side
// rate limit and bounded retries with exponential backoff and jitter.
type Client struct {
	cfg     Config
	base    *url.URL
	limiter *rate.Limiter

	mu      sync.Mutex
	token   string
	expires time.Time
	now     func() time.Time
}

// New validates cfg and returns a client.
func New(cfg Config) (*Client, error) {
	cfg = withDefaults(cfg)
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("1NCE base URL %q: want http(s)://host/path", cfg.BaseURL)
	}
	if cfg.Username == "" || !cfg.Password.IsSet() {
		return nil, errors.New("1NCE credentials: username and password are required")
	}
	if cfg.PageSize < 1 || cfg.PageSize > MaxPageSize {
		return nil, fmt.Errorf("1NCE page size %d: want 1-%d", cfg.PageSize, MaxPageSize)
	}
	return &Client{cfg: cfg, base: base, limiter: rate.NewLimiter(rate.Limit(cfg.RateLimit), 1), now: time.Now}, nil
}

func withDefaults(c Config) Config {
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	if c.PageSize == 0 {
		c.PageSize = MaxPageSize
	}
	if c.RateLimit <= 0 {
		c.RateLimit = 10
	}
	if c.MaxPages == 0 {
		c.MaxPages = 100_000
	}
	if c.MaxTries == 0 {
		c.MaxTries = 6
	}
	if c.MaxElapsed == 0 {
		c.MaxElapsed = 2 * time.Minute
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	return c
}

type nopObserver struct{}

func (nopObserver) Request(string, string) {}
func (nopObserver) Retry(string, string)   {}
