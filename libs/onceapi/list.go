package onceapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/cenkalti/backoff/v5"
)

// ListStats describes a finished listing.
type ListStats struct {
	Pages int
	SIMs  int
	// TotalCount is X-Total-Count of the first page, -1 when absent.
	TotalCount int
}

// ListSIMs walks every page of GET /v1/sims and hands each page to fn as it
// arrives, so memory holds one page. It ends on X-Total-Pages when the header
// is present and consistent, otherwise on a short or empty page, and never
// after MaxPages. Any error (including ErrIncomplete) means the caller saw
// only part of the inventory.
func (c *Client) ListSIMs(ctx context.Context, fn func(page []SIM) error) (ListStats, error) {
	stats := ListStats{TotalCount: -1}
	declared := -1
	for page := 1; ; page++ {
		if page > c.cfg.MaxPages {
			return stats, fmt.Errorf("%w: more than %d pages", ErrIncomplete, c.cfg.MaxPages)
		}
		res, err := c.page(ctx, page)
		if err != nil {
			return stats, fmt.Errorf("list SIMs page %d: %w", page, err)
		}
		sims, hdr := res.sims, res.header
		stats.Pages, stats.SIMs = page, stats.SIMs+len(sims)
		if page == 1 {
			declared, stats.TotalCount = headerInt(hdr, HeaderTotalPages), headerInt(hdr, HeaderTotalCount)
		}
		if err := fn(sims); err != nil {
			return stats, err
		}
		done, err := c.lastPage(page, len(sims), declared, headerInt(hdr, HeaderTotalPages))
		if err != nil || done {
			return stats, err
		}
	}
}

// lastPage decides whether page ends the listing. A declared page count is
// trusted only while it stays the same on every page; a page shorter than
// requested before the declared end means the listing was cut short.
func (c *Client) lastPage(page, n, declared, current int) (bool, error) {
	consistent := declared > 0 && current == declared
	if !consistent {
		return n < c.cfg.PageSize, nil
	}
	if page >= declared {
		return true, nil
	}
	if n < c.cfg.PageSize {
		return false, fmt.Errorf("%w: page %d of %d had %d SIMs", ErrIncomplete, page, declared, n)
	}
	return false, nil
}

// page fetches one page with retries; a 401 refreshes the token once, and a
// second 401 in a row means the account has no access, which retrying cannot fix.
func (c *Client) page(ctx context.Context, page int) (pageResult, error) {
	refreshed := false
	return retry(ctx, c, "sims", func() (pageResult, error) {
		res, err := c.fetchPage(ctx, page)
		if errors.Is(err, errTokenRejected) {
			if refreshed {
				return res, backoff.Permanent(fmt.Errorf("%w again with a fresh token for user %s", err, c.cfg.Username))
			}
			refreshed = true
		}
		return res, err
	})
}

type pageResult struct {
	sims   []SIM
	header http.Header
}

// fetchPage makes one attempt at a page and counts it by status.
func (c *Client) fetchPage(ctx context.Context, page int) (pageResult, error) {
	resp, tok, err := c.requestPage(ctx, page)
	if err != nil {
		return pageResult{}, err
	}
	defer resp.Body.Close()
	res, err := c.readPage(resp, tok, page)
	status := strconv.Itoa(resp.StatusCode)
	if errors.Is(err, ErrInvalidResponse) {
		status = "invalid_json"
	}
	c.cfg.Observer.Request("sims", status)
	return res, err
}

// requestPage waits for the rate limiter and a token, then sends GET /v1/sims.
func (c *Client) requestPage(ctx context.Context, page int) (*http.Response, string, error) {
	if err := c.limiter.Wait(ctx); err != nil {
		return nil, "", backoff.Permanent(err)
	}
	tok, err := c.accessToken(ctx)
	if err != nil {
		return nil, "", backoff.Permanent(err)
	}
	u := fmt.Sprintf("%s/v1/sims?page=%d&pageSize=%d", c.base, page, c.cfg.PageSize)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", backoff.Permanent(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		c.cfg.Observer.Request("sims", "error")
		return nil, "", transportError(ctx, err)
	}
	return resp, tok, nil
}

// readPage turns an answer into SIMs or a retryable or permanent error.
func (c *Client) readPage(resp *http.Response, tok string, page int) (pageResult, error) {
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized:
		c.invalidate(tok)
		return pageResult{}, errTokenRejected
	default:
		return pageResult{}, classify(resp, c.now())
	}
	sims, err := decodePage(resp.Body)
	if err != nil {
		return pageResult{}, fmt.Errorf("%w: page %d: %w", ErrInvalidResponse, page, err)
	}
	return pageResult{sims: sims, header: resp.Header}, nil
}

// maxPageBytes bounds one page's body: 100 SIMs take about 50 KB, so a much
// larger answer is a broken API, not a page to hold in memory.
const maxPageBytes = 16 << 20

// decodePage reads a JSON array of SIMs; anything else (an object, trailing
// garbage, a truncated body, an oversized one) is an error.
func decodePage(body io.Reader) ([]SIM, error) {
	dec := json.NewDecoder(io.LimitReader(body, maxPageBytes+1))
	var sims []SIM
	if err := dec.Decode(&sims); err != nil {
		return nil, err
	}
	if sims == nil {
		return nil, errors.New("null instead of an array")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the array")
	}
	return sims, nil
}

// headerInt returns a non-negative integer header, or -1 when absent or invalid.
func headerInt(h http.Header, name string) int {
	v, err := strconv.Atoi(h.Get(name))
	if err != nil || v < 0 {
		return -1
	}
	return v
}
