package deploy

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readEnvFile reads deployments/environments/<name>.env (Key=Value lines).
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: %q is not Key=Value", path, line)
		}
		out[k] = v
	}
	return out
}

// TestEnvironmentFilesMatchTemplate: every environment sets parameters the
// template has, with allowed values, and environments never share a prefix.
func TestEnvironmentFilesMatchTemplate(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	files, _ := filepath.Glob(filepath.Join(root(t), "deployments", "environments", "*.env"))
	if len(files) < 2 {
		t.Fatalf("want a production and a non-production environment, got %v", files)
	}
	prefixes := map[string]string{}
	kinds := map[string]bool{}
	for _, f := range files {
		env := readEnvFile(t, f)
		name := filepath.Base(f)
		if other, dup := prefixes[env["Prefix"]]; dup {
			t.Errorf("%s and %s share Prefix %s", name, other, env["Prefix"])
		}
		prefixes[env["Prefix"]] = name
		kinds[env["Environment"]] = true
		for k, v := range env {
			if k == "AWS_REGION" {
				continue // where the environment lives: deploy.sh and simbridge --env read it
			}
			p, ok := tpl.Parameters[k].(map[string]any)
			if !ok {
				t.Errorf("%s: %s is not a template parameter", name, k)
				continue
			}
			if allowed, ok := p["AllowedValues"].([]any); ok && !containsString(allowed, v) {
				t.Errorf("%s: %s=%s not in %v", name, k, v, allowed)
			}
			if pat, ok := p["AllowedPattern"].(string); ok && !regexp.MustCompile(pat).MatchString(v) {
				t.Errorf("%s: %s=%s does not match %s", name, k, v, pat)
			}
		}
		for k, p := range tpl.Parameters {
			_, hasDefault := p.(map[string]any)["Default"]
			if _, set := env[k]; !set && !hasDefault && k != "ImageRepository" && k != "ImageTag" {
				t.Errorf("%s: required parameter %s not set", name, k)
			}
		}
	}
	if !kinds["production"] || !kinds["non-production"] {
		t.Errorf("environments cover %v", kinds)
	}
}

func containsString(list []any, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// fakeAWS logs its arguments one call per line and answers what deploy.sh asks.
const fakeAWS = `#!/usr/bin/env bash
echo "aws $*" >>"$CALLS"
case "$1 $2" in
"sts get-caller-identity") echo 123456789012 ;;
"ecr get-login-password") echo fake-registry-token ;;
"ecr describe-images"|"secretsmanager describe-secret") exit 254 ;;
"cloudformation describe-stacks") case "$*" in *CASetupRoleArn*) echo arn:aws:iam::123456789012:role/simbridge-staging-CASetupRole-1A2B ;; esac ;;
"sts assume-role") printf 'ASIAROLEKEY\tROLE-SECRET-NOT-LOGGED\tROLE-TOKEN-NOT-LOGGED\n' ;;
esac
exit 0
`

const fakeDocker = `#!/usr/bin/env bash
cat >/dev/null 2>&1 || true
echo "docker $*" >>"$CALLS"
`

// fakeGo records the one-time CA setup the deploy runs with the go tool.
const fakeGo = `#!/usr/bin/env bash
echo "go $* (as ${AWS_ACCESS_KEY_ID:-the deployer})" >>"$CALLS"
`

// runScript runs a tools/scripts script with fake aws, docker and go commands.
func runScript(t *testing.T, script string, env []string, args ...string) (calls, output string, err error) {
	t.Helper()
	return runScriptAt(t, filepath.Join(root(t), "tools", "scripts", script), env, args...)
}

// writeFileIn writes content to dir/rel, creating its directories.
func writeFileIn(t *testing.T, dir, rel, content string) {
	t.Helper()
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}

// runScriptAt runs the script at path with fake aws, docker and go commands.
func runScriptAt(t *testing.T, path string, env []string, args ...string) (calls, output string, err error) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"aws": fakeAWS, "docker": fakeDocker, "go": fakeGo} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	log := filepath.Join(dir, "calls")
	cmd := exec.Command("bash", append([]string{path}, args...)...)
	cmd.Env = append(os.Environ(), append(env, "CALLS="+log, "PATH="+dir+":"+os.Getenv("PATH"), "AWS_REGION=eu-central-1")...)
	out, err := cmd.CombinedOutput()
	b, _ := os.ReadFile(log)
	return string(b), string(out), err
}

func TestDeployScript(t *testing.T) {
	t.Parallel()
	secret := "s3cr3t-value-that-must-not-leak"
	files := map[string]string{}
	for _, k := range []string{"ONCE_PASSWORD_FILE", "OPENVPN_CONFIG_FILE", "OPENVPN_AUTH_FILE"} {
		files[k] = writeTemp(t, strings.ToLower(k), secret)
	}
	cases := []struct {
		name    string
		env     []string
		args    []string
		wantErr bool
		want    []string // in this order in the calls
	}{
		{"unknown environment", nil, []string{"nowhere"}, true, nil},
		{"first deploy without credentials", nil, []string{"staging"}, true, []string{"cloudformation deploy", "docker build"}},
		{"first deploy", []string{"ONCE_PASSWORD_FILE=" + files["ONCE_PASSWORD_FILE"], "OPENVPN_CONFIG_FILE=" + files["OPENVPN_CONFIG_FILE"],
			"OPENVPN_AUTH_FILE=" + files["OPENVPN_AUTH_FILE"], "IMAGE_TAG=abc123"}, []string{"staging"}, false, []string{
			"cloudformation deploy --region eu-central-1 --stack-name simbridge-registry",
			"docker build --platform linux/amd64 -f " + filepath.Join(root(t), "deployments/docker/Dockerfile") + " --build-arg SERVICE=sim-poller --target service",
			"--build-arg SERVICE=vpn-gateway --target gateway -t 123456789012.dkr.ecr.eu-central-1.amazonaws.com/simbridge/vpn-gateway:abc123",
			"docker push 123456789012.dkr.ecr.eu-central-1.amazonaws.com/simbridge/vpn-gateway:abc123",
			"secretsmanager create-secret --region eu-central-1 --name simbridge-staging/once-password --secret-string file://",
			"cloudformation deploy --region eu-central-1 --stack-name simbridge-staging",
			"Environment=non-production", "ImageRepository=123456789012.dkr.ecr.eu-central-1.amazonaws.com/simbridge ImageTag=abc123",
			"sts assume-role --region eu-central-1 --role-arn arn:aws:iam::123456789012:role/simbridge-staging-CASetupRole-1A2B",
			"go run ./tools/cmd/bootstrap -prefix simbridge-staging -ca-only (as ASIAROLEKEY)",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			calls, out, err := runScript(t, "deploy.sh", c.env, c.args...)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v\n%s\ncalls:\n%s", err, out, calls)
			}
			rest := calls
			for _, w := range c.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("calls lack %q after the previous ones:\n%s\noutput:\n%s", w, calls, out)
				}
				rest = rest[i+len(w):]
			}
			for _, s := range []string{secret, "ROLE-SECRET-NOT-LOGGED", "ROLE-TOKEN-NOT-LOGGED"} {
				if strings.Contains(calls+out, s) {
					t.Fatalf("a secret value (%s) reached a command line or the output", s)
				}
			}
		})
	}
}

func TestTeardownScriptDryRunWithoutConfirmation(t *testing.T) {
	t.Parallel()
	calls, out, err := runScript(t, "teardown.sh", []string{"GO=echo"}, "staging")
	if err != nil || strings.Contains(calls, "delete-stack") || !strings.Contains(out, "-dry-run") {
		t.Fatalf("without CONFIRM teardown must only dry-run: %v\n%s\n%s", err, out, calls)
	}
	calls, out, err = runScript(t, "teardown.sh", []string{"GO=echo", "CONFIRM=simbridge-staging"}, "staging")
	if err != nil || !strings.Contains(out, "-confirm simbridge-staging") ||
		!strings.Contains(calls, "ecs update-service --cluster simbridge-staging --service provisioner --desired-count 0") ||
		!strings.Contains(calls, "cloudformation delete-stack --stack-name simbridge-staging") {
		t.Fatalf("confirmed teardown: %v\n%s\n%s", err, out, calls)
	}
	if strings.Index(calls, "update-service") > strings.Index(calls, "delete-stack") {
		t.Fatal("services must stop before the stack goes")
	}
}

// TestMotoVersionMatchesCompose: the moto that local runs and tests install
// is the one docker compose runs, so both emulate the same AWS.
func TestMotoVersionMatchesCompose(t *testing.T) {
	t.Parallel()
	script := string(readFile(t, filepath.Join(root(t), "tools", "scripts", "ensure-moto.sh")))
	m := regexp.MustCompile(`(?m)^MOTO_VERSION=(\S+)$`).FindStringSubmatch(script)
	if m == nil || !strings.Contains(script, `"moto[server]==$MOTO_VERSION"`) {
		t.Fatal("ensure-moto.sh does not pin moto[server] with MOTO_VERSION")
	}
	p, err := LoadCompose(context.Background(), composeFile(t))
	if err != nil {
		t.Fatal(err)
	}
	if img := p.Services["moto"].Image; img != "motoserver/moto:"+m[1] {
		t.Errorf("compose runs %s, ensure-moto.sh installs moto %s", img, m[1])
	}
}

// TestEnsureMotoCleansUpAFailedInstall: when pip fails, a virtualenv the
// script created is removed (the next run would otherwise find an empty
// .venv), and one that existed before is kept.
func TestEnsureMotoCleansUpAFailedInstall(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	// python3 -m venv DIR creates DIR/bin/pip, which always fails.
	fakePython := "#!/bin/sh\nmkdir -p \"$3/bin\" && printf '#!/bin/sh\\nexit 1\\n' >\"$3/bin/pip\" && chmod +x \"$3/bin/pip\"\n"
	if err := os.WriteFile(filepath.Join(bin, "python3"), []byte(fakePython), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, existed := range []bool{false, true} {
		venv := filepath.Join(t.TempDir(), "venv")
		if existed {
			if err := os.MkdirAll(filepath.Join(venv, "keep"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command("bash", filepath.Join(root(t), "tools", "scripts", "ensure-moto.sh"))
		cmd.Env = append(os.Environ(), "VENV="+venv, "MOTO_SERVER=", "PATH="+bin+":/usr/bin:/bin")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "Could not install") {
			t.Fatalf("existed=%v: want a failure with instructions, got %v\n%s", existed, err, out)
		}
		_, statErr := os.Stat(venv)
		if existed == os.IsNotExist(statErr) {
			t.Errorf("existed=%v: virtualenv present afterwards = %v", existed, statErr == nil)
		}
	}
}

// TestMakeHelpListsEveryTarget: `make help` prints every phony target with
// the meaning from its ## comment.
func TestMakeHelpListsEveryTarget(t *testing.T) {
	t.Parallel()
	makefile := string(readFile(t, filepath.Join(root(t), "Makefile")))
	cmd := exec.Command("make", "-s", "help")
	cmd.Dir = root(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make help: %v\n%s", err, out)
	}
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  (\S[a-z0-9 /-]*?)\s{2,}\S`).FindAllStringSubmatch(string(out), -1) {
		for _, name := range strings.Split(m[1], " / ") {
			listed[name] = true
		}
	}
	for _, line := range regexp.MustCompile(`(?m)^\.PHONY:(.*)$`).FindAllStringSubmatch(makefile, -1) {
		for _, target := range strings.Fields(line[1]) {
			if !listed[target] {
				t.Errorf("make help does not list %s (give it a ## comment)", target)
			}
		}
	}
}
