package deploy

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/simbridge/simbridge/libs/secrets"
	"github.com/simbridge/simbridge/libs/testkit"
)

// rotationDriver plays Secrets Manager's part: it calls the function's
// four steps with a fresh token for each secret named on the command line,
// each step twice (Secrets Manager retries a step that failed or timed out).
const rotationDriver = `
import sys, uuid
import index
for arn in sys.argv[1:]:
    token = str(uuid.uuid4())
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        for _ in range(2):
            index.handler({"SecretId": arn, "ClientRequestToken": token, "Step": step}, None)
`

// rotationPython is a Python with boto3 (the function's only library): the
// one moto_server runs with (its virtualenv, where `make deps` installs it),
// else python3 from PATH.
func rotationPython(t *testing.T) string {
	t.Helper()
	if moto, err := testkit.FindMotoServer(); err == nil {
		if p := filepath.Join(filepath.Dir(moto), "python3"); fileExists(p) {
			return p
		}
	}
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 with boto3 runs the rotation function: `make deps` installs one with moto")
	}
	return p
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestSecretRotation runs the stack's rotation function (its inline code,
// as Lambda would) against the emulator for both generated secrets: after a
// rotation the services read a new value as current and still accept the
// old one (libs/secrets, what onboarding-api and the Data Streamer receiver
// use), the Data Streamer's user name is kept, and the new values are as
// long and as plain as the ones the stack generates.
func TestSecretRotation(t *testing.T) {
	t.Parallel()
	endpoint := testkit.OwnMoto(t)
	python := rotationPython(t)
	tpl := loadTemplate(t)
	fn, _ := tpl.Resources["SecretRotationFunction"].Properties["Code"].(map[string]any)
	code, _ := fn["ZipFile"].(string)
	if code == "" || tpl.Resources["SecretRotationFunction"].Properties["Handler"] != "index.handler" {
		t.Fatal("the rotation function has no inline code with handler index.handler")
	}
	dir := t.TempDir()
	writeFileIn(t, dir, "index.py", code)
	writeFileIn(t, dir, "driver.py", rotationDriver)

	ctx := context.Background()
	sm := secretsmanager.NewFromConfig(testkit.AWSConfigFor(t, endpoint))
	name := testkit.Name(t)
	oldKey := strings.Repeat("k", 64)
	oldStream := `{"username":"1nce-datastreamer","password":"` + strings.Repeat("p", 40) + `"}`
	var arns []string
	for id, value := range map[string]string{name + "/onboarding-api-key": oldKey, name + "/datastreamer-credentials": oldStream} {
		out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(id), SecretString: aws.String(value)})
		if err != nil {
			t.Fatal(err)
		}
		arns = append(arns, aws.ToString(out.ARN))
	}
	cmd := exec.Command(python, append([]string{"driver.py"}, arns...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append(testkit.Env(endpoint), "AWS_DEFAULT_REGION="+testkit.Region, "PYTHONPATH="+dir)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("rotation failed: %v\n%s", err, out)
	}
	if strings.Contains(string(out), oldKey) || strings.Contains(string(out), "ppppp") {
		t.Fatal("the rotation function printed a secret")
	}

	plain := regexp.MustCompile(`^[A-Za-z0-9]+$`)
	key, err := secrets.Source{SecretID: name + "/onboarding-api-key"}.ResolveVersions(ctx, sm)
	if err != nil {
		t.Fatal(err)
	}
	if cur := string(key.Current); cur == oldKey || len(cur) != 64 || !plain.MatchString(cur) {
		t.Errorf("API key after rotation: %d characters, changed=%v; want a new 64-character alphanumeric key", len(cur), cur != oldKey)
	}
	if len(key.Others) != 1 || string(key.Others[0]) != oldKey {
		t.Errorf("after rotation the old API key is not accepted any more (%d other versions): the gateway would be refused until it re-reads", len(key.Others))
	}
	stream, err := secrets.Source{SecretID: name + "/datastreamer-credentials"}.ResolveVersions(ctx, sm)
	if err != nil {
		t.Fatal(err)
	}
	var cur struct{ Username, Password string }
	if err := json.Unmarshal([]byte(stream.Current), &cur); err != nil {
		t.Fatalf("Data Streamer credentials after rotation are not JSON: %v", err)
	}
	if cur.Username != "1nce-datastreamer" || len(cur.Password) != 40 || !plain.MatchString(cur.Password) || strings.Contains(oldStream, cur.Password) {
		t.Errorf("Data Streamer credentials after rotation: user %q, a %d-character password (new: %v)", cur.Username, len(cur.Password), !strings.Contains(oldStream, cur.Password))
	}
	if len(stream.Others) != 1 || string(stream.Others[0]) != oldStream {
		t.Errorf("after rotation 1NCE's current password is refused (%d other versions): the stream fails until the portal is updated", len(stream.Others))
	}
}
