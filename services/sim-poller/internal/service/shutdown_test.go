package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/oncesim"
	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
	"github.com/simbridge/simbridge/services/sim-poller/internal/service"
)

// shutdownTimeout is the SHUTDOWN_TIMEOUT the process gets: everything must
// be done within it.
const shutdownTimeout = 5 * time.Second

// TestSIGTERMDuringASyncAnswersReleasesTheLeaseAndExitsZero sends SIGTERM to
// the sim-poller binary while POST /sync is listing 1NCE: the caller gets the
// interrupted summary (503), nothing is published, the lease is released so
// another replica can sync at once, and the process exits 0 within
// SHUTDOWN_TIMEOUT.
func TestSIGTERMDuringASyncAnswersReleasesTheLeaseAndExitsZero(t *testing.T) {
	t.Parallel()
	bin := pollerBinary(t)
	e := standard(listed)(t)
	// Page 1 comes at once, page 2 only after 30 s: the run is mid-listing,
	// holding the lease, when SIGTERM arrives.
	if err := e.sim.SetFaults([]oncesim.Fault{{Match: oncesim.EndpointSIMs, Skip: 1, DelayMS: 30_000}}); err != nil {
		t.Fatal(err)
	}
	proc := startPoller(t, e, bin)

	answer := make(chan syncAnswer, 1)
	go func() { answer <- postSyncOnce(proc.httpURL + "/sync") }()
	testkit.Eventually(t, 20*time.Second, "page 2 requested", func() error {
		if e.sim.Stats().FaultsApplied == 0 {
			return errors.New("the delayed page was not requested yet")
		}
		return nil
	})
	sent := time.Now()
	if err := proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	var res syncAnswer
	select {
	case res = <-answer:
	case <-time.After(2 * shutdownTimeout):
		t.Fatal("POST /sync got no answer after SIGTERM")
	}
	var sum app.Summary
	if res.err != nil || res.code != http.StatusServiceUnavailable || json.Unmarshal([]byte(res.body), &sum) != nil ||
		!sum.Interrupted || sum.Complete || !strings.Contains(sum.Error, "shutting down") {
		t.Fatalf("POST /sync during SIGTERM: %d %s (%v); want 503 with the interrupted summary", res.code, res.body, res.err)
	}
	code := proc.wait(t, 2*shutdownTimeout)
	if code != 0 || time.Since(sent) > shutdownTimeout {
		t.Errorf("exit code %d after %v, want 0 within SHUTDOWN_TIMEOUT (%v)\n%s", code, time.Since(sent), shutdownTimeout, proc.logs.String())
	}

	if got := e.commands(t); len(got) != 0 {
		t.Errorf("the interrupted run published %v", got)
	}
	out, err := dynamodb.NewFromConfig(e.aws).GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(e.res.Leases()), Key: map[string]dbtypes.AttributeValue{"name": &dbtypes.AttributeValueMemberS{Value: "sim-poller-sync"}},
	})
	if err != nil || out.Item != nil {
		t.Fatalf("lease item after shutdown: %v (%v); want it deleted", out.Item, err)
	}
	if err := e.sim.SetFaults(nil); err != nil {
		t.Fatal(err)
	}
	if sum, err := e.poller(t, nil).Syncer.Sync(context.Background(), false); err != nil || !sum.Complete {
		t.Fatalf("the next replica's sync right after: %v (complete %v); want it to run at once", err, sum.Complete)
	}
	if logs := proc.logs.String(); strings.Contains(logs, `"msg":"sync done"`) || strings.Contains(logs, simPassword) {
		t.Errorf("the interrupted process logged a successful sync or the password:\n%s", logs)
	}
}

// TestShutdownDuringAScheduledRunReleasesTheLease stops a poller whose
// start-up run is mid-listing: Serve returns at once, the run published
// nothing, counts as interrupted (not a success) and left no lease behind.
func TestShutdownDuringAScheduledRunReleasesTheLease(t *testing.T) {
	t.Parallel()
	e := standard(listed)(t)
	slowPages(t, e, 30*time.Second)
	p := e.poller(t, func(c *service.Config) { c.SyncOnStart = true })
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- p.Serve(ctx) }()
	testkit.Eventually(t, 20*time.Second, "first page requested", func() error {
		if e.sim.Stats().FaultsApplied == 0 {
			return errors.New("no page requested yet")
		}
		return nil
	})
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(shutdownTimeout):
		t.Fatal("Serve outlived the shutdown timeout")
	}
	if got := e.commands(t); len(got) != 0 {
		t.Errorf("the interrupted run published %v", got)
	}
	if metric(t, p.Registry, "simbridge_sim_poller_run_failures_total", "interrupted") != 1 || metric(t, p.Registry, "simbridge_sim_poller_runs_total", "success") != 0 {
		t.Error("the interrupted run was not counted as interrupted")
	}
	if err := e.sim.SetFaults(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.poller(t, nil).Syncer.Sync(context.Background(), false); errors.Is(err, app.ErrRunInProgress) {
		t.Fatalf("the next replica finds the lease still held: %v", err)
	}
}

// pollerBinary is the sim-poller command ($BIN_DIR/sim-poller or a build);
// under -short the test skips before building it.
func pollerBinary(t *testing.T) string {
	t.Helper()
	return testkit.Binary(t, "services/sim-poller/cmd/sim-poller")
}

// pollerProcess is a running sim-poller binary.
type pollerProcess struct {
	cmd     *exec.Cmd
	httpURL string
	logs    *testkit.LogBuffer
	done    chan struct{}
}

// startPoller runs bin against e's simulator and resources, without a sync
// at start, and waits until it is ready; the test's end kills it if needed.
func startPoller(t *testing.T, e *env, bin string) *pollerProcess {
	t.Helper()
	httpPort, err := testkit.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	opsPort, err := testkit.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	p := &pollerProcess{cmd: exec.Command(bin), httpURL: fmt.Sprintf("http://127.0.0.1:%d", httpPort), logs: &testkit.LogBuffer{}, done: make(chan struct{})}
	p.cmd.Env = append(testkit.Env(testkit.MotoEndpoint(t)),
		fmt.Sprintf("HTTP_ADDR=127.0.0.1:%d", httpPort), fmt.Sprintf("OPS_ADDR=127.0.0.1:%d", opsPort),
		"SHUTDOWN_TIMEOUT="+shutdownTimeout.String(), "SYNC_ON_START=false", "SYNC_INTERVAL=1h", "LOG_LEVEL=info",
		"ONCE_API_URL="+e.simURL, "ONCE_USERNAME="+simUser, "ONCE_PASSWORD_VALUE="+simPassword,
		"ONCE_RATE_LIMIT=1000", fmt.Sprintf("ONCE_PAGE_SIZE=%d", pageSize),
		"SIM_TABLE="+e.res.Table(), "LEASE_TABLE="+e.res.Leases(), "CREATE_QUEUE="+e.res.CreateQueue(), "UPDATE_QUEUE="+e.res.UpdateQueue(),
		"DISABLE_QUEUE="+e.res.DisableQueue(), "SYNC_QUEUE="+e.res.SyncQueue(), "FAILURE_TOPIC_ARN="+e.res.FailureTopicARN)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	testkit.Eventually(t, 30*time.Second, "sim-poller ready", func() error {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", opsPort))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz %d", resp.StatusCode)
		}
		return nil
	})
	return p
}

// wait returns the exit code, failing the test if the process outlives limit.
func (p *pollerProcess) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(limit):
		t.Fatalf("sim-poller still running %v after SIGTERM\n%s", limit, p.logs.String())
	}
	return p.cmd.ProcessState.ExitCode()
}

// syncAnswer is what POST /sync answered, or the transport error.
type syncAnswer struct {
	code int
	body string
	err  error
}

func postSyncOnce(url string) syncAnswer {
	resp, err := http.Post(url, "", nil)
	if err != nil {
		return syncAnswer{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return syncAnswer{code: resp.StatusCode, body: string(b), err: err}
}
