package oncesim

import "net/http"

// adminBodyLimit bounds admin request bodies; large enough for a bulk add of 100,000 SIMs.
const adminBodyLimit = 256 << 20

// adminRoutes mounts the unauthenticated admin API that tests and tools drive.
func (s *Server) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/sims", s.handleListSIMs)
	mux.HandleFunc("POST /admin/sims", s.handleAddSIMs)
	mux.HandleFunc("DELETE /admin/sims/{iccid}", s.handleRemoveSIM)
	mux.HandleFunc("PATCH /admin/sims/{iccid}", s.handlePatchSIM)
	mux.HandleFunc("GET /admin/faults", s.handleListFaults)
	mux.HandleFunc("PUT /admin/faults", s.handleSetFaults)
	mux.HandleFunc("DELETE /admin/faults", s.handleClearFaults)
	mux.HandleFunc("GET /admin/mutations", s.handleListMutations)
	mux.HandleFunc("PUT /admin/mutations", s.handleSetMutations)
	mux.HandleFunc("DELETE /admin/mutations", s.handleClearMutations)
	mux.HandleFunc("POST /admin/tokens/expire", s.handleExpireTokens)
	mux.HandleFunc("GET /admin/streamer", s.handleGetStreamer)
	mux.HandleFunc("PUT /admin/streamer", s.handleSetStreamer)
	mux.HandleFunc("DELETE /admin/streamer", s.handleStopStreamer)
	mux.HandleFunc("POST /admin/streamer/events", s.handleStreamEvents)
	mux.HandleFunc("GET /admin/stats", s.handleStats)
	mux.HandleFunc("DELETE /admin/stats", s.handleResetStats)
}

// handleStats answers the request counters.
func (s *Server) handleStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Stats())
}

// handleResetStats zeroes the request counters.
func (s *Server) handleResetStats(w http.ResponseWriter, _ *http.Request) {
	s.ResetStats()
	w.WriteHeader(http.StatusNoContent)
}

// ExpireResult is the body of POST /admin/tokens/expire.
type ExpireResult struct {
	Expired int `json:"expired"` // tokens that were still known
}

// handleExpireTokens revokes every issued token.
func (s *Server) handleExpireTokens(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, ExpireResult{Expired: s.ExpireTokens()})
}
