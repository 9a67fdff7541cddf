package oncesim_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/testkit/oncesim"
)

func TestAdminClient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		call       func(t *testing.T, sim *testSim, c *oncesim.AdminClient) error
		wantStatus int // 0 = success
	}{
		{name: "list", call: func(t *testing.T, sim *testSim, c *oncesim.AdminClient) error {
			sims, err := c.ListSIMs(t.Context())
			if err == nil && len(sims) != 2 {
				t.Fatalf("ListSIMs = %d SIMs, want 2", len(sims))
			}
			return err
		}},
		{name: "add", call: func(t *testing.T, sim *testSim, c *oncesim.AdminClient) error {
			err := c.AddSIMs(t.Context(), onceapi.SIM{ICCID: "1"}, onceapi.SIM{ICCID: "2"})
			if n := sim.srv.Inventory().Len(); err == nil && n != 4 {
				t.Fatalf("inventory has %d SIMs, want 4", n)
			}
			return err
		}},
		{name: "add existing", wantStatus: 409, call: func(t *testing.T, sim *testSim, c *oncesim.AdminClient) error {
			return c.AddSIMs(t.Context(), sim.srv.Inventory().List()[0])
		}},
		{name: "remove", call: func(t *testing.T, sim *testSim, c *oncesim.AdminClient) error {
			return c.RemoveSIM(t.Context(), sim.srv.Inventory().List()[0].ICCID)
		}},
		{name: "remove absent", wantStatus: 404, call: func(t *testing.T, _ *testSim, c *oncesim.AdminClient) error {
			return c.RemoveSIM(t.Context(), "42")
		}},
		{name: "patch", call: func(t *testing.T, sim *testSim, c *oncesim.AdminClient) error {
			ip, status := "10.7.7.7", onceapi.StatusDisabled
			got, err := c.PatchSIM(t.Context(), sim.srv.Inventory().List()[0].ICCID, oncesim.SIMPatch{Status: &status, IPAddress: &ip})
			if err == nil && (got.IPAddress != ip || got.Status != status) {
				t.Fatalf("PatchSIM = %+v", got)
			}
			return err
		}},
		{name: "set status invalid", wantStatus: 400, call: func(t *testing.T, sim *testSim, c *oncesim.AdminClient) error {
			return c.SetStatus(t.Context(), sim.srv.Inventory().List()[0].ICCID, "Broken")
		}},
		{name: "set ip", call: func(t *testing.T, sim *testSim, c *oncesim.AdminClient) error {
			iccid := sim.srv.Inventory().List()[0].ICCID
			err := c.SetIP(t.Context(), iccid, "")
			if got, _ := sim.srv.Inventory().Get(iccid); err == nil && got.IPAddress != "" {
				t.Fatalf("IP = %q, want empty", got.IPAddress)
			}
			return err
		}},
		{name: "faults round trip", call: func(t *testing.T, _ *testSim, c *oncesim.AdminClient) error {
			want := oncesim.Fault{Match: "sims", Skip: 1, Times: 2, Status: 429, RetryAfter: "3", SetHeaders: map[string]string{"X-A": "b"}}
			if err := c.SetFaults(t.Context(), want); err != nil {
				return err
			}
			got, err := c.Faults(t.Context())
			if err == nil && (len(got) != 1 || got[0].RetryAfter != "3" || got[0].SetHeaders["X-A"] != "b" || got[0].Skip != 1) {
				t.Fatalf("Faults = %+v, want %+v", got, want)
			}
			return err
		}},
		{name: "invalid fault", wantStatus: 400, call: func(t *testing.T, _ *testSim, c *oncesim.AdminClient) error {
			return c.SetFaults(t.Context(), oncesim.Fault{Match: "nothing", Status: 500})
		}},
		{name: "clear faults", call: func(t *testing.T, sim *testSim, c *oncesim.AdminClient) error {
			if err := c.SetFaults(t.Context(), oncesim.Fault{Match: "sims", Status: 500}); err != nil {
				return err
			}
			err := c.ClearFaults(t.Context())
			if err == nil && len(sim.srv.Faults()) != 0 {
				t.Fatal("faults left after ClearFaults")
			}
			return err
		}},
		{name: "set no faults", call: func(t *testing.T, _ *testSim, c *oncesim.AdminClient) error {
			return c.SetFaults(t.Context())
		}},
		{name: "expire tokens", call: func(t *testing.T, sim *testSim, c *oncesim.AdminClient) error {
			sim.token(t)
			n, err := c.ExpireTokens(t.Context())
			if err == nil && n != 1 {
				t.Fatalf("expired %d, want 1", n)
			}
			return err
		}},
		{name: "stats and reset", call: func(t *testing.T, sim *testSim, c *oncesim.AdminClient) error {
			sim.token(t)
			st, err := c.Stats(t.Context())
			if err != nil || st.TokensIssued != 1 {
				t.Fatalf("Stats = %+v, %v; want 1 token", st, err)
			}
			return c.ResetStats(t.Context())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sim := startSim(t, 2, nil)
			err := tt.call(t, sim, sim.admin)
			checkAPIError(t, err, tt.wantStatus)
		})
	}
}

// checkAPIError checks success or an APIError with the wanted status and a body.
func checkAPIError(t *testing.T, err error, wantStatus int) {
	t.Helper()
	if wantStatus == 0 {
		if err != nil {
			t.Fatalf("err = %v, want nil", err)
		}
		return
	}
	var apiErr *oncesim.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != wantStatus || apiErr.Body == "" {
		t.Fatalf("err = %v, want an APIError with status %d and a body", err, wantStatus)
	}
}

func TestAdminClientUnreachable(t *testing.T) {
	t.Parallel()
	c := oncesim.NewAdminClient("http://127.0.0.1:1", &http.Client{})
	if _, err := c.Stats(t.Context()); err == nil {
		t.Fatal("Stats succeeded against a closed port")
	}
}
