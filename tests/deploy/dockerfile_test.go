package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/simbridge/simbridge/libs/testkit"
)

// stages splits a Dockerfile into its stages by name.
func stages(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(t), "deployments", "docker", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	name := ""
	for _, line := range strings.Split(string(b), "\n") {
		if m := regexp.MustCompile(`(?i)^FROM\s+(\S+)\s+AS\s+(\S+)`).FindStringSubmatch(line); m != nil {
			name = m[2]
			out[name] = "FROM " + m[1] + "\n"
			continue
		}
		if name != "" {
			out[name] += line + "\n"
		}
	}
	return out
}

// TestDockerfile: one multi-stage Dockerfile; static binary; images run as
// a non-root user; service images are distroless (CA certificates
// included), check their health with the binary itself; the gateway adds openvpn.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	st := stages(t)
	cases := []struct {
		stage string
		want  []string
	}{
		{"build", []string{"CGO_ENABLED=0", `-ldflags="-s -w"`, "ARG SERVICE", "ARG PKG=./services/${SERVICE}/cmd/${SERVICE}", "go build"}},
		{"service", []string{"FROM gcr.io/distroless/static-debian12:nonroot", "COPY --from=build /out/app /app", "USER nonroot", `HEALTHCHECK`, `CMD ["/app", "-healthcheck"]`}},
		{"tool", []string{"FROM gcr.io/distroless/static-debian12:nonroot", "COPY --from=build /out/probe /probe", "USER nonroot"}},
		{"gateway", []string{"openvpn", "ca-certificates", "setcap cap_net_admin+ep", "USER 65532", `CMD ["/app", "-healthcheck"]`}},
	}
	for _, c := range cases {
		body, ok := st[c.stage]
		if !ok {
			t.Errorf("no stage %s", c.stage)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(body, w) {
				t.Errorf("stage %s lacks %q", c.stage, w)
			}
		}
		if regexp.MustCompile(`(?m)^USER\s+(root|0)\b`).MatchString(body) {
			t.Errorf("stage %s runs as root", c.stage)
		}
	}
}

// TestServiceBinariesFitTheImageBudget builds each service as the Dockerfile
// does and keeps it under 23 MB, so the image (distroless static adds about
// 2 MB) stays under the 25 MB target.
func TestServiceBinariesFitTheImageBudget(t *testing.T) {
	t.Parallel()
	testkit.SkipShortNeeding(t, "a build of every service")
	dir := t.TempDir()
	args := []string{"build", "-trimpath", "-ldflags=-s -w", "-o", dir + "/"}
	for _, s := range Services {
		args = append(args, "./services/"+s+"/cmd/"+s)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	const budget = 23 << 20
	for _, s := range Services {
		fi, err := os.Stat(filepath.Join(dir, s))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > budget {
			t.Errorf("%s is %.1f MB, over the %d MB budget of its image", s, float64(fi.Size())/(1<<20), budget>>20)
		}
	}
}

// TestGatewayImageIsPinned: the gateway image is as reproducible as the
// others: its Debian base by digest, and every package it installs by
// version, from snapshot.debian.org at a fixed time so the versions stay
// installable after the live mirrors moved on.
func TestGatewayImageIsPinned(t *testing.T) {
	t.Parallel()
	body := stages(t)["gateway"]
	from := strings.Fields(strings.SplitN(body, "\n", 2)[0])[1]
	if p := PinProblem(from); p != "" || !strings.Contains(from, "@sha256:") {
		t.Errorf("gateway base %s: %s (want name:tag@sha256:digest)", from, p)
	}
	pkgs := AptInstalls(body)
	if len(pkgs) == 0 {
		t.Fatal("the gateway stage installs no package: the parser no longer sees apt-get install")
	}
	for _, p := range pkgs {
		if problem := AptPinProblem(p); problem != "" {
			t.Errorf("gateway: %s", problem)
		}
	}
	for _, w := range []string{"ARG DEBIAN_SNAPSHOT", "http://snapshot.debian.org/archive/debian/%s", "http://snapshot.debian.org/archive/debian-security/%s",
		`"${DEBIAN_SNAPSHOT}"`, "/etc/apt/sources.list.d/debian.sources"} {
		if !strings.Contains(body, w) {
			t.Errorf("gateway stage lacks %q: its packages would come from the moving mirrors", w)
		}
	}
	if regexp.MustCompile(`apt-get\s+(-\S+\s+)*(dist-)?upgrade`).MatchString(body) {
		t.Error("the gateway stage upgrades packages: versions nobody pinned")
	}
	df := string(readFile(t, filepath.Join(root(t), "deployments", "docker", "Dockerfile")))
	if m := regexp.MustCompile(`(?m)^ARG DEBIAN_SNAPSHOT=(\S+)$`).FindStringSubmatch(df); m == nil || !regexp.MustCompile(`^\d{8}T\d{6}Z$`).MatchString(m[1]) {
		t.Errorf("DEBIAN_SNAPSHOT has no default snapshot time (YYYYMMDDThhmmssZ): %v", m)
	}
}

// The apt pin rule itself.
func TestAptPinProblem(t *testing.T) {
	t.Parallel()
	cases := []struct{ spec, want string }{
		{"openvpn=2.6.14-0+deb12u2", ""},
		{"libcap2-bin=1:2.66-4+deb12u3+b1", ""},
		{"ca-certificates=20250419~deb12u2", ""},
		{"openvpn", "not pinned"},
		{"openvpn=", "not a Debian version"},
		{"openvpn=*", "not a Debian version"},
		{"openvpn*", "not a package name"},
		{"./local.deb", "not a package name"},
	}
	for _, c := range cases {
		if got := AptPinProblem(c.spec); (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("AptPinProblem(%q) = %q, want %q", c.spec, got, c.want)
		}
	}
	got := AptInstalls("RUN apt-get update && \\\n    apt-get install -y --no-install-recommends \\\n        a=1 \\\n        b=2 && \\\n    setcap x\n")
	if strings.Join(got, " ") != "a=1 b=2" {
		t.Errorf("AptInstalls = %v", got)
	}
}
