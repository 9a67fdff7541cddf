package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"

	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
)

// LoadCompose loads and validates (compose specification schema, references,
// interpolation with an empty environment) a compose file with every profile.
func LoadCompose(ctx context.Context, file string) (*types.Project, error) {
	return LoadComposeEnv(ctx, file, []string{})
}

// LoadComposeEnv is LoadCompose interpolating with env (KEY=VALUE entries).
func LoadComposeEnv(ctx context.Context, file string, env []string) (*types.Project, error) {
	opts, err := cli.NewProjectOptions([]string{file},
		cli.WithWorkingDirectory(filepath.Dir(file)),
		cli.WithName("simbridge"),
		cli.WithEnv(env),
		cli.WithProfiles([]string{"*"}),
	)
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(ctx)
}

// ComposeSecrets lists, per simbridge service, the secrets it must be given in compose.
var ComposeSecrets = map[string][]string{
	"sim-poller":     {"ONCE_PASSWORD_"},
	"onboarding-api": {"API_KEY_"},
	"vpn-gateway":    {"API_KEY_"},
}

// CheckCompose returns what is wrong with a loaded project beyond what the
// schema catches; repo is the repository root, specs what each service reads.
func CheckCompose(p *types.Project, repo string, specs map[string]EnvSpec) []string {
	var problems []string
	add := func(svc, format string, args ...any) {
		problems = append(problems, svc+": "+fmt.Sprintf(format, args...))
	}
	stages := dockerfileStages(p, repo)
	hostPorts := map[string]string{}
	addresses := map[string]string{}
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		oneShot := s.Restart == "no"
		if !oneShot && (s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) == 0) {
			add(name, "no health check")
		}
		if s.Build == nil {
			if p := PinProblem(s.Image); p != "" {
				add(name, "%s", p)
			}
		}
		if s.Build != nil {
			problems = append(problems, checkBuild(name, s.Build, repo, stages)...)
		}
		for _, port := range s.Ports {
			key := port.HostIP + ":" + port.Published + "/" + port.Protocol
			if other, dup := hostPorts[key]; dup && port.Published != "" {
				add(name, "host port %s already published by %s", key, other)
			}
			hostPorts[key] = name
		}
		for _, n := range s.Networks {
			if n != nil && n.Ipv4Address != "" {
				if other, dup := addresses[n.Ipv4Address]; dup {
					add(name, "address %s already used by %s", n.Ipv4Address, other)
				}
				addresses[n.Ipv4Address] = name
			}
		}
		if spec, ok := specs[name]; ok {
			env := map[string]string{}
			for k, v := range s.Environment {
				if v != nil {
					env[k] = *v
				}
			}
			for _, prob := range spec.Check(env, ComposeSecrets[name]...) {
				add(name, "%s", prob)
			}
			problems = append(problems, checkNames(name, env)...)
			if s.HealthCheck != nil && strings.Join(s.HealthCheck.Test, " ") != "CMD /app -healthcheck" {
				add(name, "health check %v: use the binary's own -healthcheck", s.HealthCheck.Test)
			}
			if env["AWS_ENDPOINT_URL_IOT"] == "" || env["AWS_ENDPOINT_URL_IOT_DATA_PLANE"] == "" {
				add(name, "IoT and IoT Data Plane must be routed to the IoT emulator")
			}
		}
	}
	for svc := range specs {
		if _, ok := p.Services[svc]; !ok {
			add(svc, "missing from the compose file")
		}
	}
	problems = append(problems, checkSubnet(p, addresses)...)
	problems = append(problems, checkDemoDevice(p)...)
	sort.Strings(problems)
	return problems
}

// checkBuild: the build context and Dockerfile exist, the target is a stage
// of it and the command the build args select exists.
func checkBuild(name string, b *types.BuildConfig, repo string, stages map[string]map[string]bool) []string {
	var problems []string
	df := b.Dockerfile
	if !filepath.IsAbs(df) {
		df = filepath.Join(b.Context, df)
	}
	if _, err := os.Stat(df); err != nil {
		return []string{fmt.Sprintf("%s: Dockerfile %s: %v", name, df, err)}
	}
	if b.Target != "" && !stages[df][b.Target] {
		problems = append(problems, fmt.Sprintf("%s: target %q is not a stage of %s", name, b.Target, df))
	}
	arg := func(k string) string {
		if v := b.Args[k]; v != nil {
			return *v
		}
		return ""
	}
	pkg := arg("PKG")
	if pkg == "" {
		pkg = "./services/" + arg("SERVICE") + "/cmd/" + arg("SERVICE")
	}
	if arg("SERVICE") == "" {
		problems = append(problems, name+": build arg SERVICE is required")
	}
	if m, _ := filepath.Glob(filepath.Join(b.Context, pkg, "*.go")); len(m) == 0 {
		problems = append(problems, fmt.Sprintf("%s: build arg selects %s, which has no Go files", name, pkg))
	}
	return problems
}

var stageLine = regexp.MustCompile(`(?im)^FROM\s+\S+\s+AS\s+(\S+)\s*$`)

// dockerfileStages reads the named stages of every Dockerfile the project builds.
func dockerfileStages(p *types.Project, repo string) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, s := range p.Services {
		if s.Build == nil {
			continue
		}
		df := s.Build.Dockerfile
		if !filepath.IsAbs(df) {
			df = filepath.Join(s.Build.Context, df)
		}
		b, err := os.ReadFile(df)
		if err != nil {
			continue
		}
		out[df] = map[string]bool{}
		for _, m := range stageLine.FindAllStringSubmatch(string(b), -1) {
			out[df][m[1]] = true
		}
	}
	return out
}

// checkNames: the resource names the services are given are the ones the
// bootstrap (prefix "simbridge") creates.
func checkNames(svc string, env map[string]string) []string {
	n := bootstrap.Names{Prefix: "simbridge"}
	want := map[string]string{
		"SIM_TABLE": n.Table(), "LEASE_TABLE": n.Leases(), "CREATE_QUEUE": n.CreateQueue(), "UPDATE_QUEUE": n.UpdateQueue(), "DISABLE_QUEUE": n.DisableQueue(),
		"KMS_KEY_ID": n.KeyAlias(), "IOT_POLICY_NAME": n.Policy(), "API_KEY_SECRET_ID": n.APIKeySecret(),
		"SUCCESS_TOPIC_ARN": ":" + n.SuccessTopic(), "FAILURE_TOPIC_ARN": ":" + n.FailureTopic(),
	}
	var problems []string
	for k, w := range want {
		v, ok := env[k]
		if ok && !(v == w || strings.HasPrefix(w, ":") && strings.HasSuffix(v, w)) {
			problems = append(problems, fmt.Sprintf("%s: %s=%s, the bootstrap creates %s", svc, k, v, strings.TrimPrefix(w, ":")))
		}
	}
	return problems
}

// checkSubnet: fixed addresses lie in the default network's subnet.
func checkSubnet(p *types.Project, addresses map[string]string) []string {
	net, ok := p.Networks["default"]
	if !ok || len(addresses) == 0 {
		return nil
	}
	var problems []string
	for _, c := range net.Ipam.Config {
		prefix, err := netip.ParsePrefix(c.Subnet)
		if err != nil {
			return []string{fmt.Sprintf("network default: subnet %q: %v", c.Subnet, err)}
		}
		for a, svc := range addresses {
			if ip, err := netip.ParseAddr(a); err != nil || !prefix.Contains(ip) {
				problems = append(problems, fmt.Sprintf("%s: address %s outside %s", svc, a, prefix))
			}
		}
	}
	return problems
}

// checkDemoDevice: the demo device's address is the first simulated SIM's
// IP, so the gateway (which looks devices up by source address) knows it.
func checkDemoDevice(p *types.Project) []string {
	dev, ok := p.Services["device"]
	sim, ok2 := p.Services["oncesim"]
	if !ok || !ok2 {
		return nil
	}
	get := func(k string) string {
		if v := sim.Environment[k]; v != nil {
			return *v
		}
		return ""
	}
	want := strings.Replace(get("ONCESIM_IP_PATTERN"), "x", get("ONCESIM_IP_START"), 1)
	for _, n := range dev.Networks {
		if n != nil && n.Ipv4Address == want {
			return nil
		}
	}
	return []string{fmt.Sprintf("device: its address must be the first SIM's IP %s", want)}
}

// PrometheusTargets reads the static scrape targets of a Prometheus config.
func PrometheusTargets(file string) (map[string]bool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var cfg struct {
		ScrapeConfigs []struct {
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, sc := range cfg.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for _, t := range st.Targets {
				out[t] = true
			}
		}
	}
	return out, nil
}

// DashboardQueries returns the PromQL expressions and datasource uids of a Grafana dashboard.
func DashboardQueries(file string) (exprs []string, uids map[string]bool, err error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, err
	}
	var d struct {
		Panels []struct {
			Title      string `json:"title"`
			Datasource struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, nil, err
	}
	uids = map[string]bool{}
	for _, p := range d.Panels {
		uids[p.Datasource.UID] = true
		for _, t := range p.Targets {
			exprs = append(exprs, t.Expr)
		}
	}
	return exprs, uids, nil
}
