package service_test

import (
	"bufio"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
)

// When a busy provisioner is killed (SIGKILL: no goodbye), the replacement
// started in its place stops counting it within seconds — a busy task's
// heartbeat expires 3 s after its last one — instead of sharing the
// account's quota with a dead task for 15 s (at about 1 SIM/s).
func TestAKilledProvisionersReplacementStopsCountingItWithinSeconds(t *testing.T) {
	t.Parallel()
	a := newAccount(t, bootstrap.Options{VisibilityTimeout: 30 * time.Second})
	quotas := map[string]float64{"RegisterCertificate": 3}
	var cmds []events.SimCommand
	for i := range 300 { // a minute and more of work at 3 certificates a second: the tasks stay busy
		cmds = append(cmds, create(iccid(5000+i), fmt.Sprintf("10.50.%d.%d", i/200, i%200+1)))
	}
	publish(t, a, cmds...)
	logPath := filepath.Join(t.TempDir(), "provisioner.log")
	logOnFailure(t, logPath)
	bin := binary(t, "provisioner")
	start := func() (ops string, p *proc) {
		port, err := testkit.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		ops = fmt.Sprintf("127.0.0.1:%d", port)
		return ops, startBinary(t, bin, serviceEnv(a, a.proxy.URL, "WORKERS=4", quotaEnv(quotas), "OPS_ADDR="+ops), logPath)
	}
	counts := func(ops string, want int) func() error {
		return func() error {
			n, err := quotaTasks(ops, "RegisterCertificate")
			if err == nil && n != want {
				err = fmt.Errorf("%d tasks share RegisterCertificate, want %d", n, want)
			}
			return err
		}
	}
	_, killed := start()
	survivor, _ := start()
	testkit.Eventually(t, 60*time.Second, "the two busy tasks count each other", counts(survivor, 2))

	killed.kill()
	killedAt := time.Now()
	replacement, _ := start()
	// The replacement counts the survivor and itself, and the killed task
	// until its heartbeat expired: 3 s, plus a heartbeat to notice, plus
	// its start-up. It was 15 s.
	const bound = 8 * time.Second
	testkit.Eventually(t, bound, "the replacement no longer counts the killed task", counts(replacement, 2))
	t.Logf("the replacement stopped counting the killed task %v after the kill", time.Since(killedAt).Round(100*time.Millisecond))
}

// quotaTasks reads simbridge_quota_tasks{operation=op} from a task's /metrics.
func quotaTasks(ops, op string) (int, error) {
	res, err := http.Get("http://" + ops + "/metrics")
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	prefix := `simbridge_quota_tasks{operation="` + op + `"} `
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			f, err := strconv.ParseFloat(v, 64)
			return int(f), err
		}
	}
	return 0, fmt.Errorf("no %s in /metrics", strings.TrimSpace(prefix))
}
