package oncesim_test

import (
	"strings"
	"testing"

	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/testkit/oncesim"
)

func TestGenerate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		count     int
		prefix    string
		pattern   string
		start     int
		wantICCID []string // first ICCIDs
		wantIPs   []string // first IPs
		wantErr   string
	}{
		{name: "loopback from 2", count: 3, prefix: "8988280666000000", pattern: "127.0.0.x", start: 2,
			wantICCID: []string{"8988280666000000000", "8988280666000000001", "8988280666000000002"},
			wantIPs:   []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}},
		{name: "two x octets carry", count: 3, prefix: "89882806660", pattern: "10.0.x.x", start: 255,
			wantIPs: []string{"10.0.0.255", "10.0.1.0", "10.0.1.1"}},
		{name: "three x octets", count: 2, prefix: "89882806660", pattern: "10.x.x.x", start: 65536,
			wantIPs: []string{"10.1.0.0", "10.1.0.1"}},
		{name: "uppercase X", count: 1, prefix: "1", pattern: "10.0.0.X", start: 9, wantIPs: []string{"10.0.0.9"}},
		{name: "empty pattern means no IP", count: 2, prefix: "1", pattern: "", wantIPs: []string{"", ""}},
		{name: "full 19-digit prefix, one SIM", count: 1, prefix: "8988280666000000001", pattern: "127.0.0.x",
			wantICCID: []string{"8988280666000000001"}},
		{name: "zero SIMs", count: 0, prefix: "1", pattern: "127.0.0.x"},
		{name: "last address fits", count: 254, prefix: "1", pattern: "127.0.0.x", start: 2},
		{name: "ip overflow", count: 255, prefix: "1", pattern: "127.0.0.x", start: 2, wantErr: "overflow"},
		{name: "iccid overflow", count: 11, prefix: "898828066600000000", pattern: "10.x.x.x", wantErr: "do not fit"},
		{name: "prefix too long", count: 1, prefix: "89882806660000000000", pattern: "10.x.x.x", wantErr: "longer than"},
		{name: "prefix not digits", count: 1, prefix: "89a", pattern: "10.x.x.x", wantErr: "only digits"},
		{name: "negative count", count: -1, prefix: "1", pattern: "10.x.x.x", wantErr: "negative"},
		{name: "negative start", count: 1, prefix: "1", pattern: "10.x.x.x", start: -1, wantErr: "negative"},
		{name: "three octets", count: 1, prefix: "1", pattern: "127.0.x", wantErr: "four"},
		{name: "fixed after x", count: 1, prefix: "1", pattern: "127.x.0.1", wantErr: "after an x"},
		{name: "octet too big", count: 1, prefix: "1", pattern: "300.0.0.x", wantErr: "0-255"},
		{name: "signed octet", count: 1, prefix: "1", pattern: "+1.0.0.x", wantErr: "0-255"},
		{name: "no x", count: 1, prefix: "1", pattern: "127.0.0.1", wantErr: "at least one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sims, err := oncesim.Generate(tt.count, tt.prefix, tt.pattern, tt.start)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if len(sims) != tt.count {
				t.Fatalf("got %d SIMs, want %d", len(sims), tt.count)
			}
			for i, want := range tt.wantICCID {
				if sims[i].ICCID != want {
					t.Errorf("sims[%d].ICCID = %s, want %s", i, sims[i].ICCID, want)
				}
			}
			for i, want := range tt.wantIPs {
				if sims[i].IPAddress != want {
					t.Errorf("sims[%d].IPAddress = %q, want %q", i, sims[i].IPAddress, want)
				}
			}
			for _, s := range sims {
				checkGeneratedSIM(t, s)
			}
		})
	}
}

// checkGeneratedSIM checks the fields every generated SIM must have.
func checkGeneratedSIM(t *testing.T, s onceapi.SIM) {
	t.Helper()
	if len(s.ICCID) != 19 || !strings.HasPrefix(s.ICCIDWithLuhn, s.ICCID) || len(s.ICCIDWithLuhn) != 20 {
		t.Errorf("ICCID %q / with Luhn %q: wrong shape", s.ICCID, s.ICCIDWithLuhn)
	}
	if !luhnValid(s.ICCIDWithLuhn) {
		t.Errorf("iccid_with_luhn %s fails the Luhn check", s.ICCIDWithLuhn)
	}
	if len(s.IMSI) != 15 || len(s.MSISDN) != 15 || s.Status != onceapi.StatusEnabled {
		t.Errorf("imsi %q msisdn %q status %q: unrealistic", s.IMSI, s.MSISDN, s.Status)
	}
	if len(s.ActivationDate) != len("2018-03-09T07:59:09.000+0000") || !strings.HasSuffix(s.ActivationDate, "+0000") {
		t.Errorf("activation_date %q: wrong format", s.ActivationDate)
	}
	if s.QuotaStatus == nil || s.QuotaStatus.ID != 0 || s.QuotaStatus.Description != "More than 20% available" {
		t.Errorf("quota_status %+v: want id 0, More than 20%% available", s.QuotaStatus)
	}
}

func TestLuhn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		number string
		valid  bool
	}{
		{name: "textbook example", number: "79927398713", valid: true},
		{name: "textbook example, wrong digit", number: "79927398710", valid: false},
		{name: "test card number", number: "4111111111111111", valid: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := luhnValid(tt.number); got != tt.valid {
				t.Fatalf("luhnValid(%s) = %v, want %v", tt.number, got, tt.valid)
			}
		})
	}
	sims, err := oncesim.Generate(1, "7992739871", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !luhnValid(sims[0].ICCIDWithLuhn) {
		t.Fatalf("generated %s fails the Luhn check", sims[0].ICCIDWithLuhn)
	}
}

// luhnValid is an independent Luhn check of a number including its check digit.
func luhnValid(number string) bool {
	sum := 0
	for i := range len(number) {
		d := int(number[len(number)-1-i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

func BenchmarkGenerate100k(b *testing.B) {
	for b.Loop() {
		if _, err := oncesim.Generate(100_000, "89882806660", "10.x.x.x", 1); err != nil {
			b.Fatal(err)
		}
	}
}
