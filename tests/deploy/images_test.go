package deploy

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// thirdPartyImages collects every image reference the repository pulls
// from a registry, by where it stands: the Dockerfile's FROM lines (ARG
// defaults substituted), docker compose, the stack's image parameters and the
// emulator container of the tests.
func thirdPartyImages(t *testing.T) map[string]string {
	t.Helper()
	refs := map[string]string{}
	b, err := os.ReadFile(filepath.Join(root(t), "deployments", "docker", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	args := map[string]string{}
	for i, line := range strings.Split(string(b), "\n") {
		if m := regexp.MustCompile(`^ARG\s+(\w+)=(\S+)`).FindStringSubmatch(line); m != nil {
			args[m[1]] = m[2]
		}
		if m := regexp.MustCompile(`(?i)^FROM\s+(\S+)`).FindStringSubmatch(line); m != nil {
			ref := regexp.MustCompile(`\$\{(\w+)\}`).ReplaceAllStringFunc(m[1], func(v string) string {
				return args[strings.Trim(v, "${}")]
			})
			refs[ref] = "Dockerfile line " + strconv.Itoa(i+1)
		}
	}
	p, err := LoadCompose(context.Background(), composeFile(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range p.ServiceNames() {
		if s := p.Services[name]; s.Build == nil {
			refs[s.Image] = "docker-compose.yml service " + name
		}
	}
	refs[templateParams(loadTemplate(t), nil)["CollectorImage"]] = "stack parameter CollectorImage"
	src, err := os.ReadFile(filepath.Join(root(t), "libs", "testkit", "cmd", "emulator", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`MotoImage = "([^"]+)"`).FindSubmatch(src)
	if m == nil {
		t.Fatal("libs/testkit/cmd/emulator no longer declares MotoImage; update this test")
	}
	refs[string(m[1])] = "testkit emulator container"
	return refs
}

// Every image pulled from a registry names its version and, unless listed
// in AwaitingDigest with a reason, its digest; the list holds only images
// still unpinned.
func TestImagesArePinnedByDigest(t *testing.T) {
	t.Parallel()
	refs := thirdPartyImages(t)
	unpinned := map[string]bool{}
	var where []string
	for ref := range refs {
		where = append(where, ref)
	}
	sort.Strings(where)
	for _, ref := range where {
		if p := PinProblem(ref); p != "" {
			t.Errorf("%s: %s", refs[ref], p)
		}
		if !strings.Contains(ref, "@sha256:") {
			unpinned[ImageRepository(ref)] = true
		}
	}
	for repo := range AwaitingDigest {
		if !unpinned[repo] {
			t.Errorf("AwaitingDigest lists %s, which is pinned now or no longer used: remove it", repo)
		}
	}
}

// The rule itself, on the references it must tell apart.
func TestPinProblem(t *testing.T) {
	t.Parallel()
	digest := "@sha256:" + strings.Repeat("ab", 32)
	cases := []struct{ ref, want string }{
		{"prom/prometheus:v3.5.0" + digest, ""},
		{"prom/prometheus:v3.5.0", "not pinned by digest"},
		{"prom/prometheus:latest" + digest, "not pinned to a version"},
		{"prom/prometheus", "not pinned to a version"},
		{"golang:${GO_VERSION}-bookworm", "not pinned to a version"},
		{"motoserver/moto:5.2.1", ""},
		{"prom/prometheus:v3.5.0@sha256:abc", "not a valid reference"},
	}
	for _, c := range cases {
		got := PinProblem(c.ref)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("PinProblem(%q) = %q, want %q", c.ref, got, c.want)
		}
	}
}
