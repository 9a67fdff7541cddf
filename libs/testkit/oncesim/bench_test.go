package oncesim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/simbridge/simbridge/libs/testkit/oncesim"
)

// BenchmarkListing100k pages through 100,000 SIMs, 100 per page, as sim-poller does.
func BenchmarkListing100k(b *testing.B) {
	sims, err := oncesim.Generate(100_000, "89882806660", "10.x.x.x", 1)
	if err != nil {
		b.Fatal(err)
	}
	opts := oncesim.DefaultOptions(testUser, testPassword)
	opts.RateLimit, opts.SIMs = 0, sims
	srv, err := oncesim.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	api := hs.URL + srv.BasePath()
	tok := benchToken(b, hs.Client(), api)
	for b.Loop() {
		for page := 1; page <= 1000; page++ {
			benchPage(b, hs.Client(), api+"/v1/sims?pageSize=100&page="+strconv.Itoa(page), tok)
		}
	}
}

// benchToken gets a token without a *testing.T.
func benchToken(b *testing.B, client *http.Client, api string) string {
	b.Helper()
	req, err := http.NewRequest(http.MethodPost, api+"/oauth/token", strings.NewReader(`{"grant_type":"client_credentials"}`))
	if err != nil {
		b.Fatal(err)
	}
	req.SetBasicAuth(testUser, testPassword)
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		b.Fatal(err)
	}
	return tok.AccessToken
}

// benchPage fetches one page and drains it.
func benchPage(b *testing.B, client *http.Client, url, tok string) {
	b.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("%s: status %d", url, resp.StatusCode)
	}
}
