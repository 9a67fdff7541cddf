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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/iotcore"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
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
	for _, order := range []string{"disable first", "create first"} {
		t.Run(order, func(t *testing.T) {
			t.Parallel()
			endpoint := testkit.OwnMoto(t)
			var mu sync.Mutex
			finishedAt := 0
			var tables []string
			// One round per step, each in an account of its own (prefix) on
			// this emulator, a few at a time.
			slots := make(chan struct{}, 6)
			t.Run("rounds", func(t *testing.T) {
				for n := 1; n <= maxLateSteps; n++ {
					t.Run(fmt.Sprintf("killed after step %d", n), func(t *testing.T) {
						t.Parallel()
						slots <- struct{}{}
						defer func() { <-slots }()
						a := newAccountOn(t, endpoint, bootstrap.Options{VisibilityTimeout: 2 * time.Second, MaxReceiveCount: 50})
						dir := t.TempDir()
						provLog, deacLog := filepath.Join(dir, "provisioner.log"), filepath.Join(dir, "deactivator.log")
						logOnFailure(t, provLog)
						logOnFailure(t, deacLog)
						startBinary(t, binary(t, "deactivator"), serviceEnv(a, a.endpoint, "CLAIM_TTL=2s"), deacLog)
						store := simstore.NewDynamo(dynamodb.NewFromConfig(a.cfg), a.res.Table())
						mu.Lock()
						tables = append(tables, a.res.Table())
						mu.Unlock()
						if lateCreate(t, a, store, iccid(n), n, order, provLog) {
							mu.Lock()
							if finishedAt == 0 || n < finishedAt {
								finishedAt = n
							}
							mu.Unlock()
						}
					})
				}
			})
			if finishedAt == 0 || finishedAt-1 < 8 {
				t.Fatalf("no round let the create finish, or it took only %d steps: the kills did not cover it", finishedAt-1)
			}
			t.Logf("%s: killed the create after each of its %d steps", order, finishedAt-1)
			nothingUnnamed(t, testkit.AWSConfigFor(t, endpoint), tables)
		})
	}
}

// maxLateSteps bounds the rounds: a create of a new SIM takes 11 steps.
const maxLateSteps = 14

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
		if rec.CurrentState() != simrec.StateDisabled || rec.ClaimedBy != "" {
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

// nothingUnnamed checks, over an emulator several accounts' tables share,
// that every certificate is named by some record (the own CA never leaves
// one behind).
func nothingUnnamed(t *testing.T, cfg aws.Config, tables []string) {
	t.Helper()
	ctx := context.Background()
	named := map[string]bool{}
	for _, table := range tables {
		store := simstore.NewDynamo(dynamodb.NewFromConfig(cfg), table)
		err := store.Scan(ctx, func(s simrec.Summary) error {
			rec, err := store.Get(ctx, s.ICCID)
			for _, c := range []*simrec.Credentials{rec.Cert, rec.Next} {
				if c != nil {
					named[c.ID] = true
				}
			}
			for _, arn := range rec.Retiring {
				named[iotcore.CertificateID(arn)] = true
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	certs, err := iot.NewFromConfig(cfg).ListCertificates(ctx, &iot.ListCertificatesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range certs.Certificates {
		if !named[aws.ToString(c.CertificateId)] {
			t.Errorf("certificate %s (%s) is named by no record", aws.ToString(c.CertificateId), c.Status)
		}
	}
}
