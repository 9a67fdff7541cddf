package deploy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func composeFile(t *testing.T) string { return filepath.Join(root(t), "docker-compose.yml") }

// TestComposeFileIsValid loads docker-compose.yml with the compose
// specification's library (schema, references, interpolation) and checks
// what docker compose would only find at run time: health checks, build
// paths, the environment each service requires, names, ports, addresses.
func TestComposeFileIsValid(t *testing.T) {
	t.Parallel()
	p, err := LoadCompose(context.Background(), composeFile(t))
	if err != nil {
		t.Fatal(err)
	}
	if probs := CheckCompose(p, root(t), envSpecs(t)); len(probs) > 0 {
		t.Fatalf("docker-compose.yml:\n%s", strings.Join(probs, "\n"))
	}
	for _, svc := range []string{"localstack", "moto", "oncesim", "bootstrap", "prometheus", "grafana"} {
		if _, ok := p.Services[svc]; !ok {
			t.Errorf("no %s service", svc)
		}
	}
	ls := p.Services["localstack"].Environment["LOCALSTACK_AUTH_TOKEN"]
	if ls == nil {
		t.Error("LOCALSTACK_AUTH_TOKEN is not passed through to LocalStack")
	}
}

// TestComposeCheckRejectsBrokenFiles proves each check fails on the mistake
// it is there for, starting from the real file.
func TestComposeCheckRejectsBrokenFiles(t *testing.T) {
	t.Parallel()
	orig, err := os.ReadFile(composeFile(t))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, old, new, want string
	}{
		{"schema violation", "    restart: \"no\"\n    depends_on:\n      localstack", "    restart: [\"no\"]\n    depends_on:\n      localstack", "restart"},
		{"missing health check", "    healthcheck: *service-healthcheck\n    depends_on: *after-bootstrap\n\n  deactivator:",
			"    depends_on: *after-bootstrap\n\n  deactivator:", "provisioner: no health check"},
		{"required variable misspelt", "      SIM_TABLE: simbridge-sims\n      LEASE_TABLE: simbridge-leases\n      DISABLE_QUEUE", "      SIM_TABEL: simbridge-sims\n      LEASE_TABLE: simbridge-leases\n      DISABLE_QUEUE", "required SIM_TABLE is not set"},
		{"two secret sources", "      ONCE_PASSWORD_VALUE:", "      ONCE_PASSWORD_FILE: /run/x\n      ONCE_PASSWORD_VALUE:", "exactly one"},
		{"wrong resource name", "KMS_KEY_ID: alias/simbridge-device-keys\n      IOT", "KMS_KEY_ID: alias/simbridge-keys\n      IOT", "KMS_KEY_ID"},
		{"missing Dockerfile", "      dockerfile: deployments/docker/Dockerfile\n      target: service", "      dockerfile: deployments/Dockerfile\n      target: service", "Dockerfile"},
		{"unknown target", "      target: tool", "      target: tools", "not a stage"},
		{"unknown command", "args: {SERVICE: deactivator}", "args: {SERVICE: deactivater}", "no Go files"},
		{"port collision", "\"127.0.0.1:${SIMBRIDGE_GRAFANA_PORT:-3000}:3000\"", "\"127.0.0.1:${SIMBRIDGE_GRAFANA_PORT:-9090}:3000\"", "already published"},
		{"unpinned image", "prom/prometheus:v3.5.0@sha256:", "prom/prometheus:latest@sha256:", "not pinned to a version"},
		{"image without digest", "grafana/grafana:12.1.1@sha256:a1701c2180249361737a99a01bc770db39381640e4d631825d38ff4535efa47d", "grafana/grafana:12.1.1", "not pinned by digest"},
		{"device not a SIM", "ipv4_address: 172.31.250.100", "ipv4_address: 172.31.250.99", "first SIM's IP"},
		{"address outside subnet", "ipv4_address: 172.31.250.20", "ipv4_address: 172.31.251.20", "outside"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if !strings.Contains(string(orig), c.old) {
				t.Fatalf("docker-compose.yml no longer contains %q; update the case", c.old)
			}
			// Written next to the real file so relative build paths resolve as they do for it.
			f, err := os.CreateTemp(root(t), ".compose-broken-*.yml")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Remove(f.Name()) })
			_, _ = f.WriteString(strings.Replace(string(orig), c.old, c.new, 1))
			f.Close()
			p, err := LoadCompose(context.Background(), f.Name())
			var report string
			if err != nil {
				report = err.Error()
			} else {
				report = strings.Join(CheckCompose(p, root(t), envSpecs(t)), "\n")
			}
			if !strings.Contains(report, c.want) {
				t.Fatalf("want a problem mentioning %q, got:\n%s", c.want, report)
			}
		})
	}
}

// TestPrometheusScrapesEveryService: each service's ops listener (OPS_ADDR,
// default :9090) is a scrape target.
func TestPrometheusScrapesEveryService(t *testing.T) {
	t.Parallel()
	targets, err := PrometheusTargets(filepath.Join(root(t), "deployments", "prometheus", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := LoadCompose(context.Background(), composeFile(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range Services {
		port := "9090"
		if v := p.Services[svc].Environment["OPS_ADDR"]; v != nil {
			port = (*v)[strings.LastIndex(*v, ":")+1:]
		}
		if !targets[svc+":"+port] {
			t.Errorf("prometheus does not scrape %s:%s", svc, port)
		}
	}
}

var metricName = regexp.MustCompile(`\bsimbridge_[a-z0-9_]+`)

// TestDashboardQueriesExistingMetrics: the provisioned dashboard uses the
// provisioned datasource and only metrics the code defines (a renamed metric
// would leave a panel silently empty).
func TestDashboardQueriesExistingMetrics(t *testing.T) {
	t.Parallel()
	exprs, uids, err := DashboardQueries(filepath.Join(root(t), "deployments", "grafana", "dashboards", "simbridge.json"))
	if err != nil {
		t.Fatal(err)
	}
	ds, err := os.ReadFile(filepath.Join(root(t), "deployments", "grafana", "provisioning", "datasources", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for uid := range uids {
		if !strings.Contains(string(ds), "uid: "+uid+"\n") {
			t.Errorf("datasource uid %q is not provisioned", uid)
		}
	}
	src := goSources(t, filepath.Join(root(t), "services")) + goSources(t, filepath.Join(root(t), "libs"))
	if len(exprs) < 5 {
		t.Fatalf("dashboard has %d queries", len(exprs))
	}
	for _, e := range exprs {
		for _, m := range metricName.FindAllString(e, -1) {
			if !metricDefined(src, strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_count"), "_sum")) {
				t.Errorf("%s (in %q) is defined nowhere in services/ or libs/", m, e)
			}
		}
	}
}

// metricDefined looks for a Subsystem/Name pair spelling name in the sources.
func metricDefined(src, name string) bool {
	rest := strings.TrimPrefix(name, "simbridge_")
	for i := 1; i < len(rest); i++ {
		if rest[i] != '_' {
			continue
		}
		sub, short := rest[:i], rest[i+1:]
		if strings.Contains(src, `"`+short+`"`) && strings.Contains(src, `"`+sub+`"`) {
			return true
		}
	}
	return false
}

// portVar is a published host port taken from the environment with a default.
var portVar = regexp.MustCompile(`"127\.0\.0\.1:\$\{(SIMBRIDGE_[A-Z_]+_PORT):-(\d+)\}:\d+"`)

// TestComposeHostPortsOverridable: every published host port comes from a
// SIMBRIDGE_*_PORT variable whose default is the port used so far, so a
// taken port is moved without editing the file.
func TestComposeHostPortsOverridable(t *testing.T) {
	t.Parallel()
	src := string(readFile(t, composeFile(t)))
	vars := portVar.FindAllStringSubmatch(src, -1)
	defaults, overrides := map[string]bool{}, map[string]bool{}
	var env []string
	for i, v := range vars {
		defaults[v[2]] = true
		port := fmt.Sprint(20000 + i)
		overrides[port] = true
		env = append(env, v[1]+"="+port)
	}
	for _, c := range []struct {
		name string
		env  []string
		want map[string]bool
	}{{"defaults", []string{}, defaults}, {"overridden", env, overrides}} {
		p, err := LoadComposeEnv(context.Background(), composeFile(t), c.env)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, s := range p.Services {
			for _, port := range s.Ports {
				n++
				if !c.want[port.Published] || port.HostIP != "127.0.0.1" {
					t.Errorf("%s: %s publishes %s:%s, not from a SIMBRIDGE_*_PORT variable", c.name, s.Name, port.HostIP, port.Published)
				}
			}
		}
		if n != len(vars) || n == 0 {
			t.Errorf("%s: %d published ports, %d port variables", c.name, n, len(vars))
		}
	}
	for _, want := range []string{"SIMBRIDGE_GRAFANA_PORT:-3000", "SIMBRIDGE_GATEWAY_PORT:-8080", "SIMBRIDGE_LOCALSTACK_PORT:-4566"} {
		if !strings.Contains(src, want) {
			t.Errorf("compose file lacks ${%s}", want)
		}
	}
}

// TestDashboardWorksAgainstTheStack: the provisioned dashboard queries a
// data source uid that the AWS data source (the stack's Prometheus
// workspace, SigV4) provides too, and compose's "aws" profile runs Grafana
// with it on the same dashboards.
func TestDashboardWorksAgainstTheStack(t *testing.T) {
	t.Parallel()
	_, uids, err := DashboardQueries(filepath.Join(root(t), "deployments", "grafana", "dashboards", "simbridge.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ds struct {
		Datasources []struct {
			UID, Type, URL string
			JSONData       map[string]any `yaml:"jsonData"`
		}
	}
	if err := yaml.Unmarshal(readFile(t, filepath.Join(root(t), "deployments", "grafana", "aws", "datasources", "amp.yml")), &ds); err != nil {
		t.Fatal(err)
	}
	if len(ds.Datasources) != 1 {
		t.Fatalf("want one AWS data source, got %+v", ds.Datasources)
	}
	d := ds.Datasources[0]
	for uid := range uids {
		if uid != d.UID {
			t.Errorf("dashboard uses data source %q, the AWS one is %q", uid, d.UID)
		}
	}
	if d.Type != "prometheus" || d.URL != "${AMP_QUERY_URL}" || d.JSONData["sigV4Auth"] != true {
		t.Errorf("AWS data source %+v: want Prometheus at ${AMP_QUERY_URL} with SigV4", d)
	}
	p, err := LoadCompose(context.Background(), composeFile(t))
	if err != nil {
		t.Fatal(err)
	}
	g, local := p.Services["grafana-aws"], p.Services["grafana"]
	if v := g.Environment["GF_AUTH_SIGV4_AUTH_ENABLED"]; v == nil || *v != "true" || g.Image != local.Image {
		t.Errorf("grafana-aws: SigV4 enabled and the same image as grafana, got %v %s", v, g.Image)
	}
	mounts := map[string]string{}
	for _, v := range g.Volumes {
		mounts[v.Target] = v.Source
	}
	for _, v := range local.Volumes {
		if v.Target == "/var/lib/grafana/dashboards" && mounts[v.Target] != v.Source {
			t.Errorf("grafana-aws does not show the same dashboards (%s)", mounts[v.Target])
		}
	}
	tpl := loadTemplate(t)
	if out := tpl.Eval(tpl.Outputs["MetricsQueryUrl"], testParams); out != "<MetricsWorkspace.PrometheusEndpoint>" {
		t.Errorf("stack output MetricsQueryUrl = %s", out)
	}
}
