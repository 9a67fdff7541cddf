package service_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/simbridge/simbridge/libs/bootstrap"
	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/testkit"
)

// The provisioner, a separate process, is killed with SIGKILL at varied
// points while it works through a few hundred SIMs and restarted; in the
// end every SIM has exactly one ACTIVE certificate attached to its Thing
// with the policy, referenced by its record, and no certificate without a
// record is left at all.
func TestSIGKILLMidBatchLosesNothing(t *testing.T) {
	t.Parallel()
	bin := provisionerBinary(t)
	endpoint := testkit.OwnMoto(t)
	cfg := testkit.AWSConfigFor(t, endpoint)
	res, err := bootstrap.Ensure(context.Background(), cfg, bootstrap.Names{Prefix: testkit.Name(t)},
		bootstrap.Options{MaxReceiveCount: 50, VisibilityTimeout: 4 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	a := account{cfg: cfg, res: res, check: testkit.NewProvisioning(cfg, res.Table(), res.Policy())}
	const sims = 200
	var ids []string
	var cmds []events.SimCommand
	for i := range sims {
		ids = append(ids, iccid(i))
		cmds = append(cmds, create(iccid(i), fmt.Sprintf("10.6.%d.%d", i/200, i%200+1)))
	}
	publish(t, a, cmds...)

	env := append(append(testkit.Env(endpoint), res.Env()...), "WORKERS=8", "OPS_ADDR=127.0.0.1:0", "SHUTDOWN_TIMEOUT=5s", "LOG_LEVEL=warn")
	logPath := filepath.Join(t.TempDir(), "provisioner.log")
	rng := rand.New(rand.NewPCG(1, 2))
	store := simstore.NewDynamo(dynamodb.NewFromConfig(cfg), res.Table())
	for kill := range 6 {
		p := startBinary(t, bin, env, logPath)
		time.Sleep(time.Duration(400+rng.IntN(1600)) * time.Millisecond)
		_ = p.Process.Signal(syscall.SIGKILL)
		_ = p.Wait()
		active, pending := progress(t, store)
		t.Logf("kill %d: %d active, %d pending records", kill+1, active, pending)
	}
	p := startBinary(t, bin, env, logPath)
	t.Cleanup(func() { _ = p.Process.Kill(); _ = p.Wait() })
	allActive(t, a, ids, 4*time.Minute)
	if strays, err := a.check.Strays(context.Background()); err != nil || strays != 0 {
		b, _ := os.ReadFile(logPath)
		t.Logf("provisioner log:\n%s", b)
		t.Fatalf("%d certificates without a record are left (%v)", strays, err)
	}
}

func progress(t *testing.T, store *simstore.Dynamo) (active, pending int) {
	t.Helper()
	err := store.Scan(context.Background(), func(s simstore.Summary) error {
		if s.Active {
			active++
		} else {
			pending++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return active, pending
}

func startBinary(t *testing.T, bin string, env []string, logPath string) *exec.Cmd {
	t.Helper()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	cmd := exec.Command(bin)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// provisionerBinary is $BIN_DIR/provisioner (make test builds it) or a fresh build.
func provisionerBinary(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("BIN_DIR"); dir != "" {
		return filepath.Join(dir, "provisioner")
	}
	root, err := testkit.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "provisioner")
	cmd := exec.Command("go", "build", "-o", out, "./services/provisioner/cmd/provisioner")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build provisioner: %v\n%s", err, b)
	}
	return out
}
