package oncesim

import (
	"crypto/subtle"
	"math"
	"net/http"

	"github.com/simbridge/simbridge/libs/onceapi"
)

// grantClientCredentials is the only grant type 1NCE accepts.
const grantClientCredentials = "client_credentials"

// tokenRequest is the body of POST /oauth/token.
type tokenRequest struct {
	GrantType string `json:"grant_type"`
}

// handleToken issues a bearer token for the configured Basic-auth credentials.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if !s.credentialsOK(r) {
		writeError(w, http.StatusBadRequest, "BadCredentials", "User does not exist.")
		return
	}
	var req tokenRequest
	if err := decodeJSON(w, r, 1<<20, &req); err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	if req.GrantType != grantClientCredentials {
		writeError(w, http.StatusBadRequest, "UnsupportedGrantType", `grant_type must be "client_credentials"`)
		return
	}
	s.issueToken(w)
}

// issueToken answers 200 with a fresh token.
func (s *Server) issueToken(w http.ResponseWriter) {
	tok, err := s.tokens.issue()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "InternalError", "could not issue a token")
		return
	}
	s.stats.tokenIssued()
	writeJSON(w, http.StatusOK, onceapi.Token{
		StatusCode:  http.StatusOK,
		AccessToken: tok,
		TokenType:   "bearer",
		ExpiresIn:   int(math.Ceil(s.ttl)),
		UserID:      s.user,
		Scope:       "all",
	})
}

// credentialsOK compares the Basic-auth credentials in constant time.
func (s *Server) credentialsOK(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(s.user))
	passOK := subtle.ConstantTimeCompare([]byte(pass), []byte(s.password))
	return ok && userOK&passOK == 1
}
