package simrec_test

import (
	"testing"

	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simrec/simrectest"
)

// TestDecideRuleCases: the rules themselves on the cases every path runs
// (simrectest.RuleCases), with the claimants a listing shows.
func TestDecideRuleCases(t *testing.T) {
	t.Parallel()
	for _, tc := range simrectest.RuleCases {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			c := tc.In(1, simrectest.ICCIDs("89882806660000001"))
			d := simrec.Decide(c.Listed(c.SIM), c.Record(c.SIM), c.Claimants(c.SIM))
			if d.Change != c.Change || d.Problem != c.Problem || d.Grants() != c.Grants {
				t.Errorf("decision %+v (grants %v), want change %q problem %q grants %v", d, d.Grants(), c.Change, c.Problem, c.Grants)
			}
			for other, want := range c.Others {
				if o := simrec.Decide(c.Listed(other), c.Record(other), c.Claimants(other)); o.Change != want {
					t.Errorf("%s: change %q, want %q", other, o.Change, want)
				}
			}
		})
	}
}

// TestDecideNormalisesTheIP: the decision carries the IP as stored and
// indexed, whatever spelling 1NCE used.
func TestDecideNormalisesTheIP(t *testing.T) {
	t.Parallel()
	d := simrec.Decide(&simrec.Listed{ICCID: "89882806660000000001", Status: simrec.OnceEnabled, IP: "::ffff:10.1.2.3"}, nil, nil)
	if d.IP != "10.1.2.3" || d.Change != "create" {
		t.Fatalf("decision %+v", d)
	}
}
