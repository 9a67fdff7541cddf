package onceapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
		res, err := retry(ctx, c, "sims", func() (pageResult, error) { return c.fetchPage(ctx, page) })
		sims, hdr := res.sims, res.header
		if err != nil {
			return stats, fmt.Errorf("list SIMs page %d: %w", page, err)
		}
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

type pageResult struct {
	sims   []SIM
	header http.Header
}

func (c *Client) fetchPage(ctx context.Context, page int) (pageResult, error) {
	if err := c.limiter.Wait(ctx); err != nil {
		return pageResult{}, backoff.Permanent(err)
	}
	tok, err := c.accessToken(ctx)
	if err != nil {
		return pageResult{}, backoff.Permanent(err)
	}
	u := fmt.Sprintf("%s/v1/sims?page=%d&pageSize=%d", c.base, page, c.cfg.PageSize)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return pageResult{}, backoff.Permanent(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		c.cfg.Observer.Request("sims", "error")
		return pageResult{}, transportError(ctx, err)
	}
	defer resp.Body.Close()
	c.cfg.Observer.Request("sims", strconv.Itoa(resp.StatusCode))
	if resp.StatusCode == http.StatusUnauthorized {
		c.invalidate(tok)
		return pageResult{}, errors.New("token rejected (401), fetching a new one")
	}
	if resp.StatusCode != http.StatusOK {
		return pageResult{}, classify(resp)
	}
	var sims []SIM
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 16<<20)).Decode(&sims); err != nil {
		return pageResult{}, fmt.Errorf("decode page %d: %w", page, err)
	}
	return pageResult{sims: sims, header: resp.Header}, nil
}

// headerInt returns a non-negative integer header, or -1 when absent or invalid.
func headerInt(h http.Header, name string) int {
	v, err := strconv.Atoi(h.Get(name))
	if err != nil || v < 0 {
		return -1
	}
	return v
}
