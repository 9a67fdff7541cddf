package oncesim

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/simbridge/simbridge/libs/onceapi"
)

// Defaults of the real 1NCE API (SPEC 3.1), used by DefaultOptions and the binary.
const (
	DefaultBasePath  = "/management-api"
	DefaultTokenTTL  = time.Hour
	DefaultRateLimit = 10
	DefaultRateBurst = 10
	DefaultPageSize  = 10
)

// Options configure a Server. Zero values mean: no base path, no rate limit, DefaultTokenTTL;
// start from DefaultOptions to get 1NCE's own defaults.
type Options struct {
	User      string        // expected Basic-auth user of POST /oauth/token
	Password  string        // expected Basic-auth password; never logged
	BasePath  string        // prefix of the API routes, "" or e.g. /management-api; /admin stays unprefixed
	TokenTTL  time.Duration // lifetime of issued tokens; 0 means DefaultTokenTTL
	RateLimit float64       // requests per second on /v1/sims and /v1/sims/{iccid} together; 0 means unlimited
	RateBurst int           // burst of the rate limit; 0 means ceil(RateLimit)
	SIMs      []onceapi.SIM // initial inventory
	Logger    *slog.Logger  // request log; nil discards
	// Stream configures the simulated Data Streamer (zero: off; see
	// PUT /admin/streamer).
	Stream StreamConfig
}

// DefaultOptions returns the behaviour of the real API for user and password, so a test only
// overrides what it is about.
func DefaultOptions(user, password string) Options {
	return Options{
		User:      user,
		Password:  password,
		BasePath:  DefaultBasePath,
		TokenTTL:  DefaultTokenTTL,
		RateLimit: DefaultRateLimit,
		RateBurst: DefaultRateBurst,
	}
}

// normalized validates the options and fills the zero-value defaults.
func (o Options) normalized() (Options, error) {
	if o.User == "" || o.Password == "" {
		return o, errors.New("oncesim: user and password are required")
	}
	base, err := normalizeBasePath(o.BasePath)
	if err != nil {
		return o, err
	}
	o.BasePath = base
	if o.TokenTTL < 0 || o.RateLimit < 0 || o.RateBurst < 0 || math.IsNaN(o.RateLimit) {
		return o, errors.New("oncesim: token TTL, rate limit and rate burst must not be negative")
	}
	if o.TokenTTL == 0 {
		o.TokenTTL = DefaultTokenTTL
	}
	if o.RateBurst == 0 && o.RateLimit > 0 {
		o.RateBurst = max(1, int(math.Ceil(o.RateLimit)))
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// normalizeBasePath accepts "" or an absolute path of plain characters, drops a trailing slash and
// refuses paths that would shadow the admin API.
func normalizeBasePath(p string) (string, error) {
	p = strings.TrimRight(p, "/")
	if p == "" {
		return "", nil
	}
	if !strings.HasPrefix(p, "/") || strings.ContainsFunc(p, badPathRune) {
		return "", fmt.Errorf("oncesim: base path %q: want \"\" or /segment[/segment...] of letters, digits, - . _ ~", p)
	}
	if p == "/admin" || strings.HasPrefix(p, "/admin/") {
		return "", fmt.Errorf("oncesim: base path %q collides with the admin API", p)
	}
	return p, nil
}

// badPathRune reports characters that are not allowed in a base path (they would be read as
// ServeMux wildcards or need escaping).
func badPathRune(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return false
	case strings.ContainsRune("/-._~", r):
		return false
	}
	return true
}
