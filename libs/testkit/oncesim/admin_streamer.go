package oncesim

import (
	"net/http"

	"github.com/simbridge/simbridge/libs/onceapi"
)

// handleGetStreamer answers the Data Streamer's configuration (password
// masked) and counters.
func (s *Server) handleGetStreamer(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Streamer())
}

// handleSetStreamer replaces the Data Streamer's configuration and
// answers its state; an empty url turns it off.
func (s *Server) handleSetStreamer(w http.ResponseWriter, r *http.Request) {
	var cfg StreamConfig
	if err := decodeJSON(w, r, 1<<20, &cfg); err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	if err := s.SetStreamer(cfg); err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, s.Streamer())
}

// handleStopStreamer turns the Data Streamer off and drops what it had
// not sent.
func (s *Server) handleStopStreamer(w http.ResponseWriter, _ *http.Request) {
	_ = s.SetStreamer(StreamConfig{})
	w.WriteHeader(http.StatusNoContent)
}

// handleStreamEvents queues the records in the body (a JSON array) as if
// 1NCE had them to send: other event types, hand-made records, noise.
// Records without an id get one.
func (s *Server) handleStreamEvents(w http.ResponseWriter, r *http.Request) {
	var recs []onceapi.StreamRecord
	if err := decodeJSON(w, r, adminBodyLimit, &recs); err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	if !s.Streamer().Enabled {
		writeError(w, http.StatusConflict, "Conflict", "the streamer is off: PUT /admin/streamer first")
		return
	}
	s.stream.emit(recs...)
	writeJSON(w, http.StatusAccepted, map[string]int{"queued": len(recs)})
}
