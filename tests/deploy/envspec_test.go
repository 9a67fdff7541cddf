package deploy

import (
	"strings"
	"testing"
)

// TestEnvSpecsFollowConfigStructs pins the derivation the compose and
// CloudFormation checks rely on to facts stated in the README.
func TestEnvSpecsFollowConfigStructs(t *testing.T) {
	t.Parallel()
	specs := envSpecs(t)
	cases := []struct {
		service  string
		required string
		oneOf    string
		known    string
	}{
		{"sim-poller", "ONCE_USERNAME", "ONCE_PASSWORD_SECRET_ID", "SYNC_INTERVAL"},
		{"provisioner", "IOT_POLICY_NAME", "", "WORKERS"},
		{"deactivator", "DISABLE_QUEUE", "", "SHUTDOWN_TIMEOUT"},
		{"onboarding-api", "SIM_TABLE", "API_KEY_SECRET_ID", "IOT_ENDPOINT"},
		{"vpn-gateway", "UPSTREAM_URL", "API_KEY_FILE", "LISTEN_ADDR"},
	}
	for _, c := range cases {
		t.Run(c.service, func(t *testing.T) {
			t.Parallel()
			s, ok := specs[c.service]
			if !ok {
				t.Fatalf("no spec for %s", c.service)
			}
			if !strings.Contains(strings.Join(s.Required, ","), c.required) {
				t.Errorf("required %v lacks %s", s.Required, c.required)
			}
			if c.oneOf != "" && !s.Known[c.oneOf] {
				t.Errorf("secret sources %v lack %s", s.Secrets, c.oneOf)
			}
			if !s.Known[c.known] || !s.Known["OPS_ADDR"] || !s.Known["LOG_LEVEL"] {
				t.Errorf("known variables lack %s, OPS_ADDR or LOG_LEVEL", c.known)
			}
		})
	}
}

// TestEveryVariableIsDescribed: `<service> -h` lists every variable with its
// meaning, generated from the config struct's `desc` tags, so a variable
// added without one would be shown unexplained.
func TestEveryVariableIsDescribed(t *testing.T) {
	t.Parallel()
	for svc, spec := range envSpecs(t) {
		if len(spec.Undescribed) > 0 {
			t.Errorf("%s: no desc tag on %v", svc, spec.Undescribed)
		}
	}
}

func TestEnvSpecCheck(t *testing.T) {
	t.Parallel()
	spec := EnvSpec{
		Known:    map[string]bool{"A": true, "S_SECRET_ID": true, "S_FILE": true, "S_VALUE": true},
		Required: []string{"A"},
		Secrets:  map[string][]string{"S_": {"S_SECRET_ID", "S_FILE", "S_VALUE"}},
	}
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"complete", map[string]string{"A": "1", "S_FILE": "/f", "AWS_REGION": "x"}, ""},
		{"missing required", map[string]string{"S_FILE": "/f"}, "required A"},
		{"no secret source", map[string]string{"A": "1"}, "exactly one"},
		{"two secret sources", map[string]string{"A": "1", "S_FILE": "/f", "S_VALUE": "v"}, "exactly one"},
		{"typo", map[string]string{"A": "1", "S_FILE": "/f", "B": "x"}, "unknown variable B"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := strings.Join(spec.Check(c.env, "S_"), "; ")
			if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
				t.Fatalf("Check = %q, want %q", got, c.want)
			}
		})
	}
}
