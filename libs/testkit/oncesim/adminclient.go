package oncesim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/simbridge/simbridge/libs/onceapi"
)

// AdminClient drives a running simulator's admin API, so tests and tools (in-process or
// against the oncesim binary) change the inventory, inject faults and read the counters.
type AdminClient struct {
	baseURL string
	hc      *http.Client
}

// NewAdminClient talks to the simulator at rootURL (scheme://host:port, without the API base
// path: /admin is not under it). A nil hc means http.DefaultClient.
func NewAdminClient(rootURL string, hc *http.Client) *AdminClient {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &AdminClient{baseURL: strings.TrimRight(rootURL, "/"), hc: hc}
}

// APIError is a non-2xx answer of the admin API; it keeps the status and body so a failing
// test shows what the simulator refused and why.
type APIError struct {
	Op         string
	StatusCode int
	Body       string
}

// Error describes the failed call with its status and body.
func (e *APIError) Error() string {
	return fmt.Sprintf("oncesim admin %s: status %d: %s", e.Op, e.StatusCode, e.Body)
}

// ListSIMs returns the whole inventory sorted by ICCID.
func (c *AdminClient) ListSIMs(ctx context.Context) ([]onceapi.SIM, error) {
	var sims []onceapi.SIM
	err := c.do(ctx, http.MethodGet, "/admin/sims", nil, &sims)
	return sims, err
}

// AddSIMs adds SIMs all or nothing; an existing ICCID is an APIError with status 409.
func (c *AdminClient) AddSIMs(ctx context.Context, sims ...onceapi.SIM) error {
	if len(sims) == 0 {
		return nil
	}
	return c.do(ctx, http.MethodPost, "/admin/sims", sims, nil)
}

// RemoveSIM deletes a SIM, as when it leaves the account; 404 if absent.
func (c *AdminClient) RemoveSIM(ctx context.Context, iccid string) error {
	return c.do(ctx, http.MethodDelete, simPath(iccid), nil, nil)
}

// PatchSIM changes a SIM's status and/or IP and returns it as now served.
func (c *AdminClient) PatchSIM(ctx context.Context, iccid string, p SIMPatch) (onceapi.SIM, error) {
	var sim onceapi.SIM
	err := c.do(ctx, http.MethodPatch, simPath(iccid), p, &sim)
	return sim, err
}

// SetStatus enables or disables a SIM.
func (c *AdminClient) SetStatus(ctx context.Context, iccid, status string) error {
	_, err := c.PatchSIM(ctx, iccid, SIMPatch{Status: &status})
	return err
}

// SetIP changes a SIM's IP; "" makes it a SIM without IP.
func (c *AdminClient) SetIP(ctx context.Context, iccid, ip string) error {
	_, err := c.PatchSIM(ctx, iccid, SIMPatch{IPAddress: &ip})
	return err
}

// SetFaults replaces the fault rules; an invalid rule is an APIError with status 400.
func (c *AdminClient) SetFaults(ctx context.Context, faults ...Fault) error {
	if faults == nil {
		faults = []Fault{}
	}
	return c.do(ctx, http.MethodPut, "/admin/faults", faults, nil)
}

// ClearFaults removes every fault rule.
func (c *AdminClient) ClearFaults(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/admin/faults", nil, nil)
}

// Faults returns the fault rules with their matched/applied counters.
func (c *AdminClient) Faults(ctx context.Context) ([]FaultState, error) {
	var faults []FaultState
	err := c.do(ctx, http.MethodGet, "/admin/faults", nil, &faults)
	return faults, err
}

// SetMutations replaces the inventory changes that fire between page requests (see Mutation)
// and restarts their page count; an invalid one is an APIError with status 400.
func (c *AdminClient) SetMutations(ctx context.Context, ms ...Mutation) error {
	if ms == nil {
		ms = []Mutation{}
	}
	return c.do(ctx, http.MethodPut, "/admin/mutations", ms, nil)
}

// Mutations returns the inventory changes with whether each has fired.
func (c *AdminClient) Mutations(ctx context.Context) ([]MutationState, error) {
	var ms []MutationState
	err := c.do(ctx, http.MethodGet, "/admin/mutations", nil, &ms)
	return ms, err
}

// ClearMutations drops every inventory change, fired or not.
func (c *AdminClient) ClearMutations(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/admin/mutations", nil, nil)
}

// ExpireTokens revokes every issued token and returns how many were revoked.
func (c *AdminClient) ExpireTokens(ctx context.Context) (int, error) {
	var res ExpireResult
	err := c.do(ctx, http.MethodPost, "/admin/tokens/expire", nil, &res)
	return res.Expired, err
}

// Stats returns the request counters.
func (c *AdminClient) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	err := c.do(ctx, http.MethodGet, "/admin/stats", nil, &st)
	return st, err
}

// ResetStats zeroes the request counters.
func (c *AdminClient) ResetStats(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/admin/stats", nil, nil)
}

// simPath is the admin path of one SIM.
func simPath(iccid string) string {
	return "/admin/sims/" + url.PathEscape(iccid)
}

// do sends one admin request with an optional JSON body and decodes a JSON answer into out.
func (c *AdminClient) do(ctx context.Context, method, path string, in, out any) error {
	op := method + " " + path
	req, err := c.newRequest(ctx, method, path, in)
	if err != nil {
		return fmt.Errorf("oncesim admin %s: %w", op, err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("oncesim admin %s: %w", op, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 512<<20))
	if err != nil {
		return fmt.Errorf("oncesim admin %s: read answer: %w", op, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &APIError{Op: op, StatusCode: resp.StatusCode, Body: string(bytes.TrimSpace(body))}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("oncesim admin %s: decode answer: %w", op, err)
	}
	return nil
}

// newRequest builds the request, encoding in as JSON when given.
func (c *AdminClient) newRequest(ctx context.Context, method, path string, in any) (*http.Request, error) {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL+path, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// SetStreamer configures the simulated Data Streamer (an empty URL turns
// it off) and returns its state.
func (c *AdminClient) SetStreamer(ctx context.Context, cfg StreamConfig) (StreamState, error) {
	var st StreamState
	err := c.do(ctx, http.MethodPut, "/admin/streamer", cfg, &st)
	return st, err
}

// Streamer returns the Data Streamer's configuration and counters.
func (c *AdminClient) Streamer(ctx context.Context) (StreamState, error) {
	var st StreamState
	err := c.do(ctx, http.MethodGet, "/admin/streamer", nil, &st)
	return st, err
}

// StopStreamer turns the Data Streamer off, dropping what it had not sent.
func (c *AdminClient) StopStreamer(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/admin/streamer", nil, nil)
}

// StreamEvents queues hand-made records for the Data Streamer to send.
func (c *AdminClient) StreamEvents(ctx context.Context, recs ...onceapi.StreamRecord) error {
	return c.do(ctx, http.MethodPost, "/admin/streamer/events", recs, nil)
}
