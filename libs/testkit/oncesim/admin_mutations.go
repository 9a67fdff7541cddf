package oncesim

import "net/http"

// handleListMutations answers the mutations with whether each has fired.
func (s *Server) handleListMutations(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Mutations())
}

// handleSetMutations replaces the mutations with the JSON array in the body and restarts the
// page count they wait for.
func (s *Server) handleSetMutations(w http.ResponseWriter, r *http.Request) {
	var ms []Mutation
	if err := decodeJSON(w, r, adminBodyLimit, &ms); err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	if err := s.SetMutations(ms); err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, s.Mutations())
}

// handleClearMutations drops every mutation, fired or not.
func (s *Server) handleClearMutations(w http.ResponseWriter, _ *http.Request) {
	_ = s.SetMutations(nil)
	w.WriteHeader(http.StatusNoContent)
}
