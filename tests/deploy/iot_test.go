package deploy

import (
	"regexp"
	"strings"
	"testing"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/testkit/oncesim"
)

// iamPattern compiles an IAM resource pattern (* and ?) to a regexp.
func iamPattern(p string) *regexp.Regexp {
	q := regexp.QuoteMeta(p)
	q = strings.ReplaceAll(q, `\*`, ".*")
	q = strings.ReplaceAll(q, `\?`, ".")
	return regexp.MustCompile("^" + q + "$")
}

// TestIoTThingGrantsNameICCIDsOnly: no policy of the stack grants anything
// on every Thing of the account: Thing grants name what simbridge makes,
// Things named by ICCID (89, the telecom industry identifier of ITU-T
// E.118, then at least 16 more characters); the pattern matches the ICCIDs
// of SIMs and refuses the names other applications give Things.
func TestIoTThingGrantsNameICCIDsOnly(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	env := keyEnv(t, tpl, nil)
	ids, err := tpl.Identities(env)
	if err != nil {
		t.Fatal(err)
	}
	var resources []string
	for _, who := range ids {
		for _, st := range who.IAM {
			resources = append(resources, st.Resources...)
		}
	}
	for _, id := range tpl.OfType("AWS::IAM::ManagedPolicy") {
		st, err := tpl.statements(id, tpl.Resources[id].Properties["PolicyDocument"], env)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range st {
			resources = append(resources, s.Resources...)
		}
	}
	sims, err := oncesim.Generate(3, "8988280666000000", "10.0.0.x", 1)
	if err != nil {
		t.Fatal(err)
	}
	iccids := []string{"898828066600109953", "8988280666001099538", "8988280666001099538123"}
	for _, s := range sims {
		iccids = append(iccids, s.ICCID)
	}
	others := []string{"my-sensor-1", "gateway", "8988", "thing-8988280666001099538", "1234567890123456789"}
	thingGrants := 0
	for _, r := range resources {
		_, thing, ok := strings.Cut(r, ":thing/")
		if !ok {
			continue
		}
		thingGrants++
		if thing == "*" {
			t.Errorf("%s grants on every Thing of the account", r)
			continue
		}
		re := iamPattern(thing)
		for _, iccid := range iccids {
			if !events.ValidICCID(iccid) || !re.MatchString(iccid) {
				t.Errorf("thing/%s does not cover SIM %s (valid ICCID: %v)", thing, iccid, events.ValidICCID(iccid))
			}
		}
		for _, name := range others {
			if re.MatchString(name) {
				t.Errorf("thing/%s covers %q, a Thing simbridge never makes", thing, name)
			}
		}
	}
	if thingGrants < 2 {
		t.Errorf("%d Thing grants found: the provisioner's and the operators' at least", thingGrants)
	}
}
