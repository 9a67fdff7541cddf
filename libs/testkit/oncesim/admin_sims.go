package oncesim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/simbridge/simbridge/libs/onceapi"
)

// AddResult is the body of a successful POST /admin/sims.
type AddResult struct {
	Added int `json:"added"`
}

// handleListSIMs answers the whole inventory, sorted by ICCID.
func (s *Server) handleListSIMs(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.inv.List())
}

// handleAddSIMs adds one SIM (object body) or many (array body), all or nothing.
func (s *Server) handleAddSIMs(w http.ResponseWriter, r *http.Request) {
	sims, err := readSIMs(w, r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	if err := s.inv.Add(sims...); err != nil {
		writeInventoryError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, AddResult{Added: len(sims)})
}

// readSIMs decodes a SIM object or an array of SIMs.
func readSIMs(w http.ResponseWriter, r *http.Request) ([]onceapi.SIM, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, adminBodyLimit))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '[' {
		var sims []onceapi.SIM
		if err := json.Unmarshal(data, &sims); err != nil {
			return nil, fmt.Errorf("invalid JSON array of SIMs: %w", err)
		}
		return sims, nil
	}
	var sim onceapi.SIM
	if err := json.Unmarshal(data, &sim); err != nil {
		return nil, fmt.Errorf("invalid JSON SIM object: %w", err)
	}
	return []onceapi.SIM{sim}, nil
}

// handleRemoveSIM deletes one SIM.
func (s *Server) handleRemoveSIM(w http.ResponseWriter, r *http.Request) {
	if err := s.inv.Remove(r.PathValue("iccid")); err != nil {
		writeInventoryError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handlePatchSIM changes the status and/or IP of one SIM and answers the updated SIM.
func (s *Server) handlePatchSIM(w http.ResponseWriter, r *http.Request) {
	var p SIMPatch
	if err := decodeJSON(w, r, 1<<20, &p); err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	sim, err := s.inv.Patch(r.PathValue("iccid"), p)
	if err != nil {
		writeInventoryError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sim)
}

// writeInventoryError maps inventory errors to 404, 409 or 400.
func writeInventoryError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrSIMNotFound):
		writeError(w, http.StatusNotFound, "NotFound", err.Error())
	case errors.Is(err, ErrSIMExists):
		writeError(w, http.StatusConflict, "Conflict", err.Error())
	default:
		writeError(w, http.StatusBadRequest, "BadRequest", err.Error())
	}
}
