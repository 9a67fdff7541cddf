package oncesim

import "net/http"

// handleListFaults answers the rules with their counters.
func (s *Server) handleListFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Faults())
}

// handleSetFaults replaces the rules with the JSON array in the body.
func (s *Server) handleSetFaults(w http.ResponseWriter, r *http.Request) {
	var faults []Fault
	if err := decodeJSON(w, r, 1<<20, &faults); err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	if err := s.SetFaults(faults); err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, s.Faults())
}

// handleClearFaults removes every rule.
func (s *Server) handleClearFaults(w http.ResponseWriter, _ *http.Request) {
	_ = s.SetFaults(nil)
	w.WriteHeader(http.StatusNoContent)
}
