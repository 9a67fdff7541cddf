package onceapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/cenkalti/backoff/v5"
)

// maxSIMBytes bounds one SIM object's body: a SIM takes about 500 bytes.
const maxSIMBytes = 1 << 20

// GetSIM reads one SIM with GET /v1/sims/{iccid}, through the same rate
// limit, token cache and retries as the listing (Observer endpoint "sim").
// A SIM the account does not hold is ErrSIMNotFound; any other error means
// nothing is known about the SIM. Offset paging can miss a SIM while the
// account changes, so callers ask this endpoint before acting on a SIM's
// absence from a listing.
func (c *Client) GetSIM(ctx context.Context, iccid string) (SIM, error) {
	if !plausibleICCID(iccid) {
		return SIM{}, fmt.Errorf("get SIM %q: an ICCID is 1-32 letters or digits", iccid)
	}
	sim, err := get(ctx, c, "sim", "/v1/sims/"+url.PathEscape(iccid), func(resp *http.Response) (SIM, error) {
		return c.readSIM(resp, iccid)
	})
	if err != nil {
		return SIM{}, fmt.Errorf("get SIM %s: %w", iccid, err)
	}
	return sim, nil
}

// readSIM decodes a 200 into a SIM and turns 404 into ErrSIMNotFound.
func (c *Client) readSIM(resp *http.Response, iccid string) (SIM, error) {
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return SIM{}, backoff.Permanent(fmt.Errorf("%w: %s", ErrSIMNotFound, iccid))
	default:
		return SIM{}, classify(resp, c.now())
	}
	sim, err := decodeSIM(resp.Body)
	if err != nil {
		return SIM{}, fmt.Errorf("%w: %w", ErrInvalidResponse, err)
	}
	if sim.ICCID != "" && sim.ICCID != iccid {
		return SIM{}, backoff.Permanent(fmt.Errorf("%w: asked for SIM %s, got SIM %s", ErrInvalidResponse, iccid, sim.ICCID))
	}
	return sim, nil
}

// decodeSIM reads exactly one JSON object.
func decodeSIM(body io.Reader) (SIM, error) {
	dec := json.NewDecoder(io.LimitReader(body, maxSIMBytes))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return SIM{}, err
	}
	if len(raw) == 0 || raw[0] != '{' {
		return SIM{}, errors.New("not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return SIM{}, errors.New("unexpected data after the object")
	}
	var sim SIM
	err := json.Unmarshal(raw, &sim)
	return sim, err
}

// plausibleICCID keeps the path one segment: an ICCID is digits (some
// issuers pad with a hex letter), never a slash, dot or empty.
func plausibleICCID(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}
