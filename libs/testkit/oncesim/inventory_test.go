package oncesim_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/testkit/oncesim"
)

func TestInventory(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		do      func(inv *oncesim.Inventory) error
		wantErr error
		wantIDs string // ICCIDs after the change, comma-separated
	}{
		{name: "add keeps order", do: func(inv *oncesim.Inventory) error {
			return inv.Add(onceapi.SIM{ICCID: "2"}, onceapi.SIM{ICCID: "0"})
		}, wantIDs: "0,1,2,3"},
		{name: "add existing is atomic", do: func(inv *oncesim.Inventory) error {
			return inv.Add(onceapi.SIM{ICCID: "0"}, onceapi.SIM{ICCID: "3"})
		}, wantErr: oncesim.ErrSIMExists, wantIDs: "1,3"},
		{name: "add without ICCID", do: func(inv *oncesim.Inventory) error { return inv.Add(onceapi.SIM{}) },
			wantErr: oncesim.ErrInvalidSIM, wantIDs: "1,3"},
		{name: "remove", do: func(inv *oncesim.Inventory) error { return inv.Remove("1") }, wantIDs: "3"},
		{name: "remove absent", do: func(inv *oncesim.Inventory) error { return inv.Remove("2") },
			wantErr: oncesim.ErrSIMNotFound, wantIDs: "1,3"},
		{name: "set status", do: func(inv *oncesim.Inventory) error { return inv.SetStatus("3", onceapi.StatusDisabled) }, wantIDs: "1,3"},
		{name: "set bad status", do: func(inv *oncesim.Inventory) error { return inv.SetStatus("3", "enabled") },
			wantErr: oncesim.ErrInvalidSIM, wantIDs: "1,3"},
		{name: "set IP of absent", do: func(inv *oncesim.Inventory) error { return inv.SetIP("9", "1.2.3.4") },
			wantErr: oncesim.ErrSIMNotFound, wantIDs: "1,3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inv, err := oncesim.NewInventory([]onceapi.SIM{{ICCID: "3"}, {ICCID: "1"}})
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.do(inv); !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got := iccids(inv.List()); got != tt.wantIDs {
				t.Fatalf("ICCIDs = %s, want %s", got, tt.wantIDs)
			}
		})
	}
}

// iccids joins the ICCIDs of sims.
func iccids(sims []onceapi.SIM) string {
	ids := make([]string, len(sims))
	for i, s := range sims {
		ids[i] = s.ICCID
	}
	return strings.Join(ids, ",")
}

func TestInventoryConcurrent(t *testing.T) {
	t.Parallel()
	sim := startSim(t, 300, nil)
	tok := sim.token(t)
	inv := sim.srv.Inventory()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 25 {
				id := string(rune('a'+i)) + strings.Repeat("x", j)
				_ = inv.Add(onceapi.SIM{ICCID: id})
				_ = inv.SetIP(id, "10.0.0.1")
				_ = inv.Remove(id)
			}
		})
		wg.Go(func() {
			for range 10 {
				sim.sims(t, tok, "page=2&pageSize=100")
			}
		})
	}
	wg.Wait()
	if inv.Len() != 300 {
		t.Fatalf("Len = %d, want 300", inv.Len())
	}
}

func TestLoadInventoryFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		path    string
		wantLen int
		wantErr string
	}{
		{name: "good", path: write("good.json", `[{"iccid":"1","ip_address":"10.0.0.1","status":"Enabled","extra":true},{"iccid":"2"}]`), wantLen: 2},
		{name: "empty array", path: write("empty.json", `[]`), wantLen: 0},
		{name: "missing file", path: filepath.Join(dir, "nope.json"), wantErr: "no such file"},
		{name: "object not array", path: write("obj.json", `{"iccid":"1"}`), wantErr: "want a JSON array"},
		{name: "bad JSON", path: write("bad.json", `[{"iccid":`), wantErr: "want a JSON array"},
		{name: "duplicate", path: write("dup.json", `[{"iccid":"1"},{"iccid":"1"}]`), wantErr: "given twice"},
		{name: "no iccid", path: write("noid.json", `[{"ip_address":"10.0.0.1"}]`), wantErr: "missing iccid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sims, err := oncesim.LoadInventoryFile(tt.path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(sims) != tt.wantLen {
				t.Fatalf("got %d SIMs, %v; want %d", len(sims), err, tt.wantLen)
			}
		})
	}
}
