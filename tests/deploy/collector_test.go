package deploy

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// collectorConfig is the part of the ADOT collector configuration the
// tests rely on.
type collectorConfig struct {
	Extensions struct {
		SigV4 struct{ Service string } `yaml:"sigv4auth"`
	}
	Receivers struct {
		Prometheus struct {
			Config struct {
				ScrapeConfigs []struct {
					JobName       string `yaml:"job_name"`
					StaticConfigs []struct {
						Targets []string
						Labels  map[string]string
					} `yaml:"static_configs"`
				} `yaml:"scrape_configs"`
			}
		}
	}
	Exporters struct {
		RemoteWrite struct {
			Endpoint          string
			Auth              struct{ Authenticator string }
			AddMetricSuffixes *bool `yaml:"add_metric_suffixes"`
		} `yaml:"prometheusremotewrite"`
	}
	Service struct {
		Pipelines struct {
			Metrics struct{ Receivers, Exporters []string }
		}
	}
}

// TestMetricsCollectorSidecars: every service's task runs the collector
// next to it, scraping its ops listener under the same job and `service`
// label as docker compose's Prometheus, and remote-writing the series with
// their names unchanged to the stack's workspace, with a permission of its
// own.
func TestMetricsCollectorSidecars(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	raw := tpl.Eval(tpl.Resources["CollectorConfig"].Properties["Value"], testParams)
	var cfg collectorConfig
	if err := yaml.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatalf("collector configuration: %v\n%s", err, raw)
	}
	scrapes := cfg.Receivers.Prometheus.Config.ScrapeConfigs
	if len(scrapes) != 1 || len(scrapes[0].StaticConfigs) != 1 {
		t.Fatalf("want one scrape job with one static target, got %+v", scrapes)
	}
	sc := scrapes[0]
	target := sc.StaticConfigs[0]
	if sc.JobName != localScrapeJob(t) || fmt.Sprint(target.Targets) != "[127.0.0.1:9090]" ||
		target.Labels["service"] != "${env:SIMBRIDGE_SERVICE}" {
		t.Errorf("scrape job %q targets %v labels %v: want docker compose's job, the task's own ops port, service from SIMBRIDGE_SERVICE",
			sc.JobName, target.Targets, target.Labels)
	}
	rw := cfg.Exporters.RemoteWrite
	if rw.Endpoint != "<MetricsWorkspace.PrometheusEndpoint>api/v1/remote_write" || rw.Auth.Authenticator != "sigv4auth" ||
		cfg.Extensions.SigV4.Service != "aps" || rw.AddMetricSuffixes == nil || *rw.AddMetricSuffixes {
		t.Errorf("remote write %+v (sigv4 service %q): want the workspace, SigV4 for aps, names unchanged (add_metric_suffixes: false)",
			rw, cfg.Extensions.SigV4.Service)
	}
	if p := cfg.Service.Pipelines.Metrics; fmt.Sprint(p.Receivers, p.Exporters) != "[prometheus] [prometheusremotewrite]" {
		t.Errorf("metrics pipeline %v", p)
	}
	if img := templateParams(tpl, nil)["CollectorImage"]; !regexp.MustCompile(`^public\.ecr\.aws/aws-observability/aws-otel-collector:v\d+\.\d+\.\d+(@sha256:[0-9a-f]{64})?$`).MatchString(img) {
		t.Errorf("collector image %s: want a released ADOT version", img)
	}

	for _, svc := range Services {
		t.Run(svc, func(t *testing.T) {
			ids := serviceResources[svc]
			containers := tpl.Resources[ids.task].Properties["ContainerDefinitions"].([]any)
			main := containers[0].(map[string]any)
			if env := containerEnv(tpl, main); env["OPS_ADDR"] != "" && env["OPS_ADDR"] != ":9090" {
				t.Errorf("OPS_ADDR %s: the collector scrapes :9090", env["OPS_ADDR"])
			}
			var c map[string]any
			for _, x := range containers[1:] {
				if m := x.(map[string]any); m["Name"] == "collector" {
					c = m
				}
			}
			if c == nil {
				t.Fatal("no collector container")
			}
			secrets := map[string]string{}
			for _, s := range asList(c["Secrets"]) {
				m := s.(map[string]any)
				secrets[fmt.Sprint(m["Name"])] = tpl.Eval(m["ValueFrom"], testParams)
			}
			logs := c["LogConfiguration"].(map[string]any)["Options"].(map[string]any)
			mainLogs := main["LogConfiguration"].(map[string]any)["Options"].(map[string]any)
			cases := []struct{ what, got, want string }{
				{"image", tpl.Eval(c["Image"], testParams), "<CollectorImage>"},
				{"essential", fmt.Sprint(c["Essential"]), "false"}, // its failure must not stop the service
				{"service label", containerEnv(tpl, c)["SIMBRIDGE_SERVICE"], svc},
				{"configuration", secrets["AOT_CONFIG_CONTENT"], "<CollectorConfig>"},
				{"log group", tpl.Eval(logs["awslogs-group"], testParams), tpl.Eval(mainLogs["awslogs-group"], testParams)},
			}
			for _, k := range cases {
				if k.got != k.want {
					t.Errorf("collector %s = %s, want %s", k.what, k.got, k.want)
				}
			}
		})
	}

	pol := tpl.Resources["CollectorPolicy"].Properties
	var roles []string
	for _, r := range asList(pol["Roles"]) {
		roles = append(roles, tpl.Eval(r, testParams))
	}
	var want []string
	for _, svc := range Services {
		want = append(want, "<"+serviceResources[svc].role+">")
	}
	sort.Strings(roles)
	sort.Strings(want)
	stmts := asList(pol["PolicyDocument"].(map[string]any)["Statement"])
	if fmt.Sprint(roles) != fmt.Sprint(want) || len(stmts) != 1 {
		t.Fatalf("collector policy on %v with %d statements, want the five task roles and one statement", roles, len(stmts))
	}
	st := stmts[0].(map[string]any)
	if fmt.Sprint(st["Action"]) != "[aps:RemoteWrite]" || tpl.Eval(st["Resource"], testParams) != "<MetricsWorkspace.Arn>" {
		t.Errorf("collector policy grants %v on %v, want aps:RemoteWrite on the workspace", st["Action"], st["Resource"])
	}
	exec := fmt.Sprint(tpl.Resources["ExecutionRole"].Properties["Policies"])
	if !strings.Contains(exec, "ssm:GetParameters") || !strings.Contains(exec, "parameter/${CollectorConfig}") {
		t.Errorf("the execution role cannot read the collector configuration: %s", exec)
	}
}

func containerEnv(tpl *Template, c map[string]any) map[string]string {
	env := map[string]string{}
	for _, e := range asList(c["Environment"]) {
		m, ok := e.(map[string]any)
		if cond, isIf := m["Fn::If"].([]any); isIf {
			m, ok = cond[1].(map[string]any)
		}
		if ok {
			env[fmt.Sprint(m["Name"])] = tpl.Eval(m["Value"], testParams)
		}
	}
	return env
}

// localScrapeJob is docker compose's Prometheus job for the services.
func localScrapeJob(t *testing.T) string {
	t.Helper()
	var cfg struct {
		ScrapeConfigs []struct {
			JobName        string `yaml:"job_name"`
			RelabelConfigs []struct {
				TargetLabel string `yaml:"target_label"`
			} `yaml:"relabel_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(readFile(t, filepath.Join(root(t), "deployments", "prometheus", "prometheus.yml")), &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.ScrapeConfigs) != 1 || len(cfg.ScrapeConfigs[0].RelabelConfigs) == 0 || cfg.ScrapeConfigs[0].RelabelConfigs[0].TargetLabel != "service" {
		t.Fatalf("docker compose's Prometheus: want one job labelling each target's service, got %+v", cfg.ScrapeConfigs)
	}
	return cfg.ScrapeConfigs[0].JobName
}
