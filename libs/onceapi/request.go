package onceapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/cenkalti/backoff/v5"
)

// answerFunc turns one answer (any status but 401, which get handles) into a
// value, a retryable error or a backoff.Permanent one.
type answerFunc[T any] func(resp *http.Response) (T, error)

// get sends GET {base}{path} through everything every API call shares: the
// client-side rate limit, the cached token, retries with backoff for 429, 5xx,
// transport failures and undecodable answers, and one token refresh on 401 (a
// second 401 in a row means the account has no access, which retrying cannot
// fix). endpoint names the call for the Observer.
func get[T any](ctx context.Context, c *Client, endpoint, path string, answer answerFunc[T]) (T, error) {
	refreshed := false
	return retry(ctx, c, endpoint, func() (T, error) {
		v, err := attempt(ctx, c, endpoint, path, answer)
		if errors.Is(err, errTokenRejected) {
			if refreshed {
				return v, backoff.Permanent(fmt.Errorf("%w again with a fresh token for user %s", err, c.cfg.Username))
			}
			refreshed = true
		}
		return v, err
	})
}

// attempt makes one try and counts it by status.
func attempt[T any](ctx context.Context, c *Client, endpoint, path string, answer answerFunc[T]) (T, error) {
	var zero T
	resp, tok, err := c.send(ctx, endpoint, path)
	if err != nil {
		return zero, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		c.cfg.Observer.Request(endpoint, strconv.Itoa(resp.StatusCode))
		c.invalidate(tok)
		return zero, errTokenRejected
	}
	v, err := answer(resp)
	status := strconv.Itoa(resp.StatusCode)
	if errors.Is(err, ErrInvalidResponse) {
		status = "invalid_json"
	}
	c.cfg.Observer.Request(endpoint, status)
	return v, err
}

// send waits for the rate limiter and a token, then sends the request; it
// returns the token used so a 401 can invalidate exactly that one.
func (c *Client) send(ctx context.Context, endpoint, path string) (*http.Response, string, error) {
	if err := c.limiter.Wait(ctx); err != nil {
		return nil, "", backoff.Permanent(err)
	}
	tok, err := c.accessToken(ctx)
	if err != nil {
		return nil, "", backoff.Permanent(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base.String()+path, nil)
	if err != nil {
		return nil, "", backoff.Permanent(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		c.cfg.Observer.Request(endpoint, "error")
		return nil, "", transportError(ctx, err)
	}
	return resp, tok, nil
}
