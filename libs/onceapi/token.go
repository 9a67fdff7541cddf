package onceapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// accessToken returns a cached token, fetching a new one when none is cached
// or the cached one expires within a safety margin.
func (c *Client) accessToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && c.now().Before(c.expires) {
		return c.token, nil
	}
	tok, err := retry(ctx, c, "token", func() (Token, error) { return c.fetchToken(ctx) })
	if err != nil {
		return "", fmt.Errorf("1NCE token for user %s: %w", c.cfg.Username, err)
	}
	ttl := time.Duration(tok.ExpiresIn) * time.Second
	margin := min(time.Minute, ttl/10)
	c.token, c.expires = tok.AccessToken, c.now().Add(ttl-margin)
	return c.token, nil
}

// invalidate drops tok if it is still the cached token, after a 401.
func (c *Client) invalidate(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token == tok {
		c.token = ""
	}
}

func (c *Client) fetchToken(ctx context.Context) (Token, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base.String()+"/oauth/token",
		strings.NewReader(`{"grant_type":"client_credentials"}`))
	if err != nil {
		return Token{}, backoff.Permanent(err)
	}
	req.SetBasicAuth(c.cfg.Username, c.cfg.Password.Reveal())
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		c.cfg.Observer.Request("token", "error")
		return Token{}, transportError(ctx, err)
	}
	defer resp.Body.Close()
	c.cfg.Observer.Request("token", strconv.Itoa(resp.StatusCode))
	if resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return Token{}, backoff.Permanent(fmt.Errorf("%w (status %d)", ErrBadCredentials, resp.StatusCode))
	}
	if resp.StatusCode != http.StatusOK {
		return Token{}, classify(resp, c.now())
	}
	var tok Token
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		return Token{}, fmt.Errorf("decode token: %w", err)
	}
	if tok.AccessToken == "" || tok.ExpiresIn <= 0 {
		return Token{}, errors.New("token answer without access_token or expires_in")
	}
	return tok, nil
}
