package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/oncesim"
	"github.com/simbridge/simbridge/tools/device"
	"github.com/simbridge/simbridge/tools/devstack"
)

// commands the stack runs as separate processes.
var commands = []string{
	"services/sim-poller/cmd/sim-poller", "services/provisioner/cmd/provisioner", "services/deactivator/cmd/deactivator",
	"services/onboarding-api/cmd/onboarding-api", "services/vpn-gateway/cmd/vpn-gateway", "tools/cmd/oncesim",
}

// binaries returns a directory with the repository's commands: $BIN_DIR
// (make test builds them first) or a fresh build.
func binaries(t *testing.T) string {
	t.Helper()
	testkit.SkipShort(t)
	if dir := os.Getenv("BIN_DIR"); dir != "" {
		return dir
	}
	root, err := testkit.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	args := []string{"build", "-o", dir + "/"}
	for _, c := range commands {
		args = append(args, "./"+c)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build commands: %v\n%s", err, out)
	}
	return dir
}

// startStack runs the whole system for one test and stops it at the end,
// keeping the logs in the test's temp dir (printed on failure).
func startStack(t *testing.T, opts devstack.Options) *devstack.Stack {
	t.Helper()
	testkit.SkipShort(t)
	if _, err := testkit.FindMotoServer(); err != nil {
		t.Fatalf("AWS emulator unavailable: %v", err)
	}
	opts.BinDir = binaries(t)
	opts.LogDir = filepath.Join(t.TempDir(), "logs")
	opts.Prefix = testkit.Name(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := devstack.Start(ctx, opts)
	if err != nil {
		t.Fatalf("start stack: %v", err)
	}
	t.Cleanup(func() {
		_ = s.Stop()
		if t.Failed() {
			dumpLogs(t, opts.LogDir)
		}
	})
	return s
}

func dumpLogs(t *testing.T, dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) > 40 {
			lines = lines[len(lines)-40:]
		}
		t.Logf("---- %s (last %d lines)\n%s", e.Name(), len(lines), strings.Join(lines, "\n"))
	}
}

// deviceAt is the device whose SIM has ip.
func deviceAt(t *testing.T, s *devstack.Stack, ip string) *device.Client {
	t.Helper()
	c, err := device.New(s.GatewayURL(), ip, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// eventually retries check until it returns nil or the limit passes.
func eventually(t *testing.T, limit time.Duration, what string, check func() error) {
	t.Helper()
	testkit.Eventually(t, limit, what, check)
}

// onboarded waits until the device at ip gets valid credentials and returns
// them with the certificate id.
func onboarded(t *testing.T, s *devstack.Stack, ip string) (device.Credentials, string) {
	t.Helper()
	var creds device.Credentials
	var id string
	eventually(t, 60*time.Second, "device "+ip+" onboards", func() error {
		var err error
		if creds, err = deviceAt(t, s, ip).Fetch(context.Background(), nil); err != nil {
			return err
		}
		id, err = device.Verify(creds.Certificate, creds.PrivateKey)
		return err
	})
	return creds, id
}

// refused waits until the device at ip gets 404.
func refused(t *testing.T, s *devstack.Stack, ip string) {
	t.Helper()
	eventually(t, 60*time.Second, "device "+ip+" is refused", func() error {
		_, err := deviceAt(t, s, ip).Fetch(context.Background(), nil)
		var se *device.StatusError
		if errors.As(err, &se) && se.Code == http.StatusNotFound {
			return nil
		}
		return fmt.Errorf("want 404, got %v", err)
	})
}

func certStatus(t *testing.T, api *iot.Client, id string) iottypes.CertificateStatus {
	t.Helper()
	d, err := api.DescribeCertificate(context.Background(), &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
	if err != nil {
		t.Fatalf("describe certificate %s: %v", id, err)
	}
	return d.CertificateDescription.Status
}

func admin(s *devstack.Stack) *oncesim.AdminClient {
	return oncesim.NewAdminClient(s.OnceAdminURL, nil)
}

// sync runs POST /sync, waiting out a run already in progress (sim-poller's
// start-up sync may still hold the lease when the stack reports ready).
func sync(t *testing.T, s *devstack.Stack) {
	t.Helper()
	eventually(t, 30*time.Second, "POST /sync", func() error {
		out, err := s.Sync(context.Background())
		if err != nil && strings.Contains(err.Error(), "POST /sync: 409") {
			return err
		}
		if err != nil {
			t.Fatalf("sync: %v %s", err, out)
		}
		return nil
	})
}

func get(t *testing.T, url string, header http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
