package oncesim

import (
	"fmt"
	"log/slog"
	"net/http"

	"golang.org/x/time/rate"

	"github.com/simbridge/simbridge/libs/onceapi"
)

// Endpoint names: the values of Fault.Match and the keys of Stats.Requests.
const (
	EndpointToken = "token"
	// EndpointSIMs is the listing, GET /v1/sims.
	EndpointSIMs = "sims"
	// EndpointSIM is one SIM, GET /v1/sims/{iccid}.
	EndpointSIM = "sim"
)

// Server is one simulated 1NCE account: its credentials, inventory, tokens, rate limit and
// injected faults. Mount Handler on an httptest.Server or an http.Server.
type Server struct {
	user     string
	password string
	basePath string
	ttl      float64 // token lifetime in seconds, for expires_in
	inv      *Inventory
	tokens   *tokenStore
	limiter  *rate.Limiter // nil when unlimited
	faults   *faultEngine
	mutator  *mutator
	stats    *statsCounter
	stream   *streamer
	log      *slog.Logger
	handler  http.Handler
}

// New validates opts and builds a simulator; it fails on missing credentials, a bad base path,
// negative limits or an invalid initial inventory.
func New(opts Options) (*Server, error) {
	opts, err := opts.normalized()
	if err != nil {
		return nil, err
	}
	inv, err := NewInventory(opts.SIMs)
	if err != nil {
		return nil, fmt.Errorf("oncesim: initial inventory: %w", err)
	}
	s := &Server{
		user:     opts.User,
		password: opts.Password,
		basePath: opts.BasePath,
		ttl:      opts.TokenTTL.Seconds(),
		inv:      inv,
		tokens:   newTokenStore(opts.TokenTTL),
		faults:   &faultEngine{},
		mutator:  &mutator{},
		stats:    newStatsCounter(),
		stream:   newStreamer(opts.Logger),
		log:      opts.Logger,
	}
	inv.observer = func(before, after *onceapi.SIM) { s.stream.emit(eventsFor(before, after)...) }
	if err := s.stream.configure(opts.Stream); err != nil {
		return nil, fmt.Errorf("oncesim: %w", err)
	}
	if opts.RateLimit > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(opts.RateLimit), opts.RateBurst)
	}
	s.handler = s.routes()
	return s, nil
}

// Handler serves the API under the base path and the admin API under /admin.
func (s *Server) Handler() http.Handler { return s.handler }

// BasePath is the normalized prefix of the API routes, for building client URLs.
func (s *Server) BasePath() string { return s.basePath }

// Inventory gives in-process tests direct access to the served SIMs.
func (s *Server) Inventory() *Inventory { return s.inv }

// SetFaults replaces the injected faults, as PUT /admin/faults does.
func (s *Server) SetFaults(faults []Fault) error { return s.faults.set(faults) }

// Faults returns the injected faults with their counters, as GET /admin/faults does.
func (s *Server) Faults() []FaultState { return s.faults.list() }

// SetMutations replaces the pending inventory changes and restarts their page count, as PUT
// /admin/mutations does.
func (s *Server) SetMutations(ms []Mutation) error { return s.mutator.set(ms) }

// Mutations returns the inventory changes and whether each has fired, as GET /admin/mutations does.
func (s *Server) Mutations() []MutationState { return s.mutator.list() }

// ExpireTokens revokes every issued token, so the next API call answers 401; it returns how
// many tokens were revoked.
func (s *Server) ExpireTokens() int { return s.tokens.expireAll() }

// SetStreamer configures the simulated Data Streamer, as PUT
// /admin/streamer does (an empty URL turns it off).
func (s *Server) SetStreamer(cfg StreamConfig) error { return s.stream.configure(cfg) }

// Streamer returns the Data Streamer's state, as GET /admin/streamer does.
func (s *Server) Streamer() StreamState { return s.stream.snapshot() }

// Close stops the Data Streamer's background sending.
func (s *Server) Close() { s.stream.halt() }

// Stats returns the request counters, as GET /admin/stats does.
func (s *Server) Stats() Stats { return s.stats.snapshot() }

// ResetStats zeroes the request counters, so a test can measure one phase.
func (s *Server) ResetStats() { s.stats.reset() }

// routes builds the mux: API routes under the base path, admin routes under /admin.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST "+s.basePath+"/oauth/token", s.endpoint(EndpointToken, s.handleToken))
	mux.Handle("GET "+s.basePath+"/v1/sims", s.endpoint(EndpointSIMs, s.handleSIMs))
	mux.Handle("GET "+s.basePath+"/v1/sims/{iccid}", s.endpoint(EndpointSIM, s.handleSIM))
	s.adminRoutes(mux)
	return s.logRequests(mux)
}

// endpoint tags the request for the stats and lets the fault rules act before h.
func (s *Server) endpoint(name string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rec, ok := w.(*recorder); ok {
			rec.endpoint = name
		}
		s.serveWithFaults(name, w, r, h)
	})
}
