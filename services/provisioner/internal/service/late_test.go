package service_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/simbridge/simbridge/libs/bootstrap"
	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simstore"
)

// A create is killed (SIGKILL, right after one of its calls took effect) at
// every step in turn; sim-poller then sees the SIM disabled in 1NCE and
// publishes a disable computed against whatever the record holds. Whatever
// order the two queues deliver in — the disable first and the create
// redelivered later, or the create finished first — the SIM ends disabled:
// no certificate the record names is ACTIVE, the record is inactive, and no
// certificate exists that no record names. A create computed before the
// record existed can never undo the newer disable.
func TestLateCommandsNeverUndoNewerOnes(t *testing.T) {
	t.Parallel()
	for i, order := range []string{"disable first", "create first"} {
		t.Run(order, func(t *testing.T) {
			t.Parallel()
			a := newAccount(t, bootstrap.Options{VisibilityTimeout: 2 * time.Second, MaxReceiveCount: 50})
			dir := t.TempDir()
			provLog, deacLog := filepath.Join(dir, "provisioner.log"), filepath.Join(dir, "deactivator.log")
			logOnFailure(t, provLog)
			logOnFailure(t, deacLog)
			startBinary(t, binary(t, "deactivator"), serviceEnv(a, a.endpoint, "CLAIM_TTL=2s"), deacLog)
			store := simstore.NewDynamo(dynamodb.NewFromConfig(a.cfg), a.res.Table())
			steps := 0
			for n := 1; n < 40; n++ {
				id := iccid(1000*i + n)
				finished := lateCreate(t, a, store, id, n, order, provLog)
				if finished {
					steps = n - 1
					break
				}
			}
			if steps < 8 {
				t.Fatalf("a create took only %d steps: the kills did not cover it", steps)
			}
			t.Logf("%s: killed the create after each of its %d steps", order, steps)
			holds(t, a, simstore.AuthorityOwn, nil)
		})
	}
}

// lateCreate runs one round: the create of id is killed after its n-th
// step; it reports whether the create finished before n steps (every step
// is then covered).
func lateCreate(t *testing.T, a account, store *simstore.Dynamo, id string, n int, order, logPath string) bool {
	t.Helper()
	ctx := context.Background()
	env := serviceEnv(a, a.proxy.URL, "CLAIM_TTL=2s", "WORKERS=1")
	c := create(id, fmt.Sprintf("10.30.%d.%d", len(id)%7, n))
	publish(t, a, c)

	var once sync.Once
	killed := make(chan struct{})
	var p *proc
	var pmu sync.Mutex
	count := 0
	a.proxy.AfterRequest(func(op string, body []byte) bool {
		if !effectful(op, body, a.res.Table()) {
			return false
		}
		count++
		if count < n {
			return false
		}
		once.Do(func() {
			pmu.Lock()
			p.kill()
			pmu.Unlock()
			close(killed)
		})
		return true
	})
	pmu.Lock()
	p = startBinary(t, binary(t, "provisioner"), env, logPath)
	pmu.Unlock()
	finished := false
	deadline := time.Now().Add(30 * time.Second)
wait:
	for {
		select {
		case <-killed:
			break wait
		case <-time.After(100 * time.Millisecond):
		}
		if rec, err := store.Get(ctx, id); err == nil && rec.Active && rec.ClaimedBy == "" {
			finished = true
			break wait
		}
		if time.Now().After(deadline) {
			t.Fatalf("create %s neither finished nor reached step %d", id, n)
		}
	}
	a.proxy.AfterRequest(nil)
	if finished {
		p.kill()
		if err := a.check.Active(ctx, id); err != nil {
			t.Fatalf("create with %d steps allowed neither finished nor was killed: %v", n, err)
		}
		return true
	}

	// sim-poller: the SIM is Disabled in 1NCE; the disable is computed
	// against the record as the killed attempt left it.
	disable := func() events.SimCommand {
		rec, err := store.Get(ctx, id)
		if err != nil {
			return events.SimCommand{}
		}
		return events.SimCommand{Kind: events.KindDisable, ICCID: id, IP: rec.IP, Status: "Disabled", Reason: "disabled in 1NCE",
			BaseVersion: rec.Version, BaseCommand: rec.LastCommand, ObservedAt: time.Now()}
	}
	d := disable()
	redeliver := func() *proc {
		q := startBinary(t, binary(t, "provisioner"), serviceEnv(a, a.endpoint, "CLAIM_TTL=2s"), logPath)
		queueEmpty(t, a, a.res.CreateQueueURL, time.Minute)
		return q
	}
	switch {
	case d.ICCID == "":
		// Killed before the record existed: nothing to disable yet. The
		// create finishes, then the next sync disables the active SIM.
		q := redeliver()
		q.kill()
		publish(t, a, disable())
	case order == "disable first":
		publish(t, a, d)
		waitDisabled(t, a, store, id)
		q := redeliver()
		q.kill()
	default:
		q := redeliver()
		q.kill()
		publish(t, a, d)
	}
	waitDisabled(t, a, store, id)
	if err := a.check.Inactive(ctx, id); err != nil {
		rec, _ := store.Get(ctx, id)
		t.Fatalf("killed after step %d, %s: %v (record %s, last command %s)", n, order, err, rec.CurrentState(), rec.LastCommand)
	}
	return false
}

// waitDisabled waits until the record is disabled and unclaimed.
func waitDisabled(t *testing.T, a account, store *simstore.Dynamo, id string) {
	t.Helper()
	eventually(t, 40*time.Second, "SIM disabled", func() error {
		rec, err := store.Get(context.Background(), id)
		if err != nil {
			return err
		}
		if rec.CurrentState() != simstore.StateDisabled || rec.ClaimedBy != "" {
			return fmt.Errorf("record %s, claimed by %q", rec.CurrentState(), rec.ClaimedBy)
		}
		return nil
	})
}

// effectful reports whether a request is a step of handling a command (a
// call that reads or changes the SIM's record, key or certificates), as
// opposed to queue polling, notifications or quota heartbeats.
func effectful(op string, body []byte, table string) bool {
	switch {
	case isIoTOp(op):
		return true
	case strings.HasSuffix(op, ".GetItem"), strings.HasSuffix(op, ".PutItem"):
		return bytes.Contains(body, []byte(`"`+table+`"`))
	case strings.HasSuffix(op, ".Sign"), strings.HasSuffix(op, ".Encrypt"):
		return true
	}
	return false
}

func isIoTOp(op string) bool {
	switch op {
	case "DescribeThing", "CreateThing", "RegisterCertificate", "CreateKeysAndCertificate", "AttachThingPrincipal",
		"AttachPolicy", "UpdateCertificate", "DetachThingPrincipal", "DescribeCertificate":
		return true
	}
	return false
}
