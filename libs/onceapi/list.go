package onceapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// ListStats describes a finished listing.
type ListStats struct {
	Pages int
	// SIMs counts the entries listed, Distinct their different ICCIDs.
	SIMs     int
	Distinct int
	// TotalCount and TotalPages are X-Total-Count and X-Total-Pages of the
	// first page, -1 when absent.
	TotalCount int
	TotalPages int
}

// ListSIMs walks every page of GET /v1/sims and hands each page to fn as it
// arrives, so memory holds one page (and the ICCIDs seen). It returns
// ErrIncomplete, after reading what it could, when the listing does not add
// up (see listing for the rules, e.g. "saw 30 distinct ICCIDs, X-Total-Count
// said 32"). It reads at most MaxPages pages, and one more to see that the
// listing ends there; a longer one is incomplete. Any error means the caller
// saw only part of the inventory: SIMs it did not see are not known to be gone.
func (c *Client) ListSIMs(ctx context.Context, fn func(page []SIM) error) (ListStats, error) {
	stats := ListStats{TotalCount: -1, TotalPages: -1}
	check := newListing(c.cfg.PageSize)
	for page := 1; ; page++ {
		res, err := c.page(ctx, page)
		if err != nil {
			return stats, fmt.Errorf("list SIMs page %d: %w", page, err)
		}
		stats.Pages, stats.SIMs = page, stats.SIMs+len(res.sims)
		if page == 1 {
			stats.TotalCount, stats.TotalPages = headerInt(res.header, HeaderTotalCount), headerInt(res.header, HeaderTotalPages)
		}
		more := check.add(page, res.sims, res.header)
		stats.Distinct = check.distinct()
		if err := fn(res.sims); err != nil {
			return stats, err
		}
		if !more {
			break
		}
		if page > c.cfg.MaxPages {
			check.problem("more than %d pages", c.cfg.MaxPages)
			break
		}
	}
	check.finish()
	return stats, check.err()
}

// page fetches one page with the client's retries and token handling.
func (c *Client) page(ctx context.Context, page int) (pageResult, error) {
	path := fmt.Sprintf("/v1/sims?page=%d&pageSize=%d", page, c.cfg.PageSize)
	return get(ctx, c, "sims", path, func(resp *http.Response) (pageResult, error) {
		return c.readPage(resp, page)
	})
}

type pageResult struct {
	sims   []SIM
	header http.Header
}

// readPage turns an answer into SIMs or a retryable or permanent error.
func (c *Client) readPage(resp *http.Response, page int) (pageResult, error) {
	if resp.StatusCode != http.StatusOK {
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
