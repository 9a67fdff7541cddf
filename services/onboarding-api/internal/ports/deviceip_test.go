package ports_test

import (
	"net/http"
	"strings"
	"testing"
)

// The gateway may see a device over an IPv6 socket as ::ffff:a.b.c.d; the
// SIM is stored under a.b.c.d, and both spellings must find it.
func TestDeviceIPSpellings(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, ip := range []string{ipActive, "::ffff:" + ipActive, "::ffff:a00:1", "0:0:0:0:0:FFFF:0A00:0001"} {
		t.Run(ip, func(t *testing.T) {
			t.Parallel()
			r := f.get(t, "/device-api/onboarding", ip, nil)
			if r.code != http.StatusOK || !strings.Contains(r.body, `"iccid":"`+iccidActive+`"`) {
				t.Fatalf("got %d %s, want the credentials of %s", r.code, r.body, iccidActive)
			}
		})
	}
}
