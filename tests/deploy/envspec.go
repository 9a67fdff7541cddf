package deploy

import (
	"fmt"
	"go/types"
	"reflect"
	"sort"
	"strings"

	"golang.org/x/tools/go/packages"
)

// Services are the five deployable services; each has
// services/<name>/internal/service.Config and cmd/<name>.
var Services = []string{"sim-poller", "provisioner", "deactivator", "onboarding-api", "vpn-gateway"}

// secretSourceType is the embedded type giving <PREFIX>SECRET_ID / _FILE /
// _VALUE, of which exactly one must be set.
const secretSourceType = "github.com/simbridge/simbridge/libs/secrets.Source"

// EnvSpec is what a service reads from its environment, derived from the
// env tags of its Config struct (github.com/sethvargo/go-envconfig syntax).
type EnvSpec struct {
	// Known are all variables the service reads.
	Known map[string]bool
	// Required must be set.
	Required []string
	// Secrets maps each secret's prefix (API_KEY_) to its three sources
	// (API_KEY_SECRET_ID, _FILE, _VALUE): at most one may be set, and
	// exactly one where the deployment needs the secret.
	Secrets map[string][]string
	// Defaults are the variables' default values (the first comma-separated
	// part, enough for single values).
	Defaults map[string]string
	// Undescribed are variables (or secret prefixes) without a `desc` tag:
	// `-h` would show them without a meaning.
	Undescribed []string
}

// commonEnv is read by every service outside its Config: logging (LOG_LEVEL)
// and the AWS SDK (AWS_*, checked by prefix).
var commonEnv = []string{"LOG_LEVEL"}

// LoadEnvSpecs type-checks services/<name>/internal/service of each service
// (from the repository root dir) and derives its EnvSpec from the Config type,
// following nested structs and their prefixes.
func LoadEnvSpecs(dir string) (map[string]EnvSpec, error) {
	patterns := make([]string, len(Services))
	for i, s := range Services {
		patterns[i] = "./services/" + s + "/internal/service"
	}
	pkgs, err := packages.Load(&packages.Config{Mode: packages.NeedName | packages.NeedTypes, Dir: dir}, patterns...)
	if err != nil {
		return nil, err
	}
	out := map[string]EnvSpec{}
	for _, p := range pkgs {
		if len(p.Errors) > 0 {
			return nil, fmt.Errorf("%s: %v", p.PkgPath, p.Errors[0])
		}
		obj := p.Types.Scope().Lookup("Config")
		if obj == nil {
			return nil, fmt.Errorf("%s: no Config type", p.PkgPath)
		}
		st, ok := obj.Type().Underlying().(*types.Struct)
		if !ok {
			return nil, fmt.Errorf("%s: Config is not a struct", p.PkgPath)
		}
		spec := EnvSpec{Known: map[string]bool{}, Secrets: map[string][]string{}, Defaults: map[string]string{}}
		for _, k := range commonEnv {
			spec.Known[k] = true
		}
		if err := spec.walk(st, ""); err != nil {
			return nil, fmt.Errorf("%s: %w", p.PkgPath, err)
		}
		sort.Strings(spec.Required)
		name := strings.TrimSuffix(strings.TrimPrefix(p.PkgPath, "github.com/simbridge/simbridge/services/"), "/internal/service")
		out[name] = spec
	}
	return out, nil
}

func (s *EnvSpec) walk(st *types.Struct, prefix string) error {
	for i := 0; i < st.NumFields(); i++ {
		f := st.Field(i)
		tag, hasTag := reflect.StructTag(st.Tag(i)).Lookup("env")
		if !f.Exported() || tag == "-" {
			continue
		}
		name, opts := parseEnvTag(tag)
		desc := reflect.StructTag(st.Tag(i)).Get("desc")
		if named, ok := f.Type().(*types.Named); ok && named.Obj().Pkg() != nil &&
			named.Obj().Pkg().Path()+"."+named.Obj().Name() == secretSourceType {
			p := prefix + opts["prefix"]
			group := []string{p + "SECRET_ID", p + "FILE", p + "VALUE"}
			for _, g := range group {
				s.Known[g] = true
			}
			s.Secrets[p] = group
			if desc == "" {
				s.Undescribed = append(s.Undescribed, p+"*")
			}
			continue
		}
		if inner, ok := f.Type().Underlying().(*types.Struct); ok && name == "" && !isLeafStruct(f.Type()) {
			if err := s.walk(inner, prefix+opts["prefix"]); err != nil {
				return err
			}
			continue
		}
		if !hasTag || name == "" {
			continue
		}
		full := prefix + name
		s.Known[full] = true
		if desc == "" {
			s.Undescribed = append(s.Undescribed, full)
		}
		if _, req := opts["required"]; req {
			s.Required = append(s.Required, full)
		}
		if d, ok := opts["default"]; ok {
			s.Defaults[full] = d
		}
	}
	return nil
}

// isLeafStruct reports struct types decoded from one variable (time.Time).
func isLeafStruct(t types.Type) bool {
	named, ok := t.(*types.Named)
	return ok && named.Obj().Pkg() != nil && named.Obj().Pkg().Path() == "time"
}

// parseEnvTag splits `NAME, required, default=x, prefix=Y_`.
func parseEnvTag(tag string) (string, map[string]string) {
	parts := strings.Split(tag, ",")
	opts := map[string]string{}
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		opts[k] = v
	}
	return strings.TrimSpace(parts[0]), opts
}

// Check returns what is wrong with env for this service: required variables
// missing, secrets given twice or, for the prefixes in needed, not at all,
// and variables the service does not read (typos would otherwise be
// silently ignored).
func (s EnvSpec) Check(env map[string]string, needed ...string) []string {
	var problems []string
	for _, r := range s.Required {
		if env[r] == "" {
			problems = append(problems, "required "+r+" is not set")
		}
	}
	need := map[string]bool{}
	for _, p := range needed {
		if _, ok := s.Secrets[p]; !ok {
			problems = append(problems, "the service reads no secret "+p+"*")
		}
		need[p] = true
	}
	for p, g := range s.Secrets {
		n := 0
		for _, k := range g {
			if env[k] != "" {
				n++
			}
		}
		if n > 1 || (need[p] && n != 1) {
			problems = append(problems, fmt.Sprintf("want exactly one of %v, got %d", g, n))
		}
	}
	for k := range env {
		if !s.Known[k] && !strings.HasPrefix(k, "AWS_") {
			problems = append(problems, "unknown variable "+k+" (typo?)")
		}
	}
	sort.Strings(problems)
	return problems
}
