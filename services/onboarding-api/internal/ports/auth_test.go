package ports_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/simbridge/simbridge/libs/config"
)

// TestOnlyTheGatewayMayCall calls onboarding-api directly, as a device or an
// attacker inside the network could, with every kind of key.
func TestOnlyTheGatewayMayCall(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tests := []struct {
		name     string
		headers  map[string]string
		wantCode int
	}{
		{"current key", map[string]string{"x-api-key": currentKey}, 200},
		{"previous key during a rotation", map[string]string{"x-api-key": previousKey}, 200},
		{"missing key", map[string]string{"x-api-key": ""}, 401},
		{"wrong key", map[string]string{"x-api-key": "guess"}, 401},
		{"key prefix", map[string]string{"x-api-key": currentKey[:10]}, 401},
		{"key plus suffix", map[string]string{"x-api-key": currentKey + "x"}, 401},
		{"key in another header", map[string]string{"x-api-key": "", "Authorization": currentKey}, 401},
		{"spoofed device IP without key", map[string]string{"x-api-key": "", "X-Forwarded-For": ipActive}, 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := f.get(t, "/device-api/onboarding", ipActive, tc.headers)
			if r.code != tc.wantCode {
				t.Fatalf("got %d %s", r.code, r.body)
			}
			if tc.wantCode == 401 && strings.TrimSpace(r.body) != `{"message":"Unauthorized"}` {
				t.Fatalf("401 body %s", r.body)
			}
		})
	}
}

// TestRotatedKeyLearntOnFirstUse: the gateway switched to a new key before
// onboarding-api's periodic refresh; the unknown key triggers a re-read and
// is accepted at once.
func TestRotatedKeyLearntOnFirstUse(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.keys.next = []config.Secret{"rotated-key", currentKey}
	if r := f.get(t, "/device-api/onboarding", ipActive, map[string]string{"x-api-key": "rotated-key"}); r.code != http.StatusOK {
		t.Fatalf("rotated key: %d", r.code)
	}
	if r := f.get(t, "/device-api/onboarding", ipActive, map[string]string{"x-api-key": previousKey}); r.code != http.StatusUnauthorized {
		t.Fatalf("retired key: %d", r.code)
	}
	if r := f.get(t, "/device-api/onboarding", ipActive, map[string]string{"x-api-key": ""}); r.code != http.StatusUnauthorized || f.keys.refreshes != 2 {
		t.Fatalf("missing key: %d after %d refreshes (a missing key must not trigger one)", r.code, f.keys.refreshes)
	}
}
