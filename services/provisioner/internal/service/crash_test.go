package service_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
)

// The provisioner, a separate process, is killed with SIGKILL at varied
// points while it works through a few hundred SIMs and restarted; in the
// end every SIM has exactly one ACTIVE certificate attached to its Thing
// with the policy, referenced by its record (with the own CA, no
// certificate exists that no record names). Meanwhile another process of the
// same account creates INACTIVE, unattached certificates at a steady rate:
// none of them may be touched.
func TestSIGKILLMidBatchLosesNothing(t *testing.T) {
	t.Parallel()
	for i, authority := range authorities {
		t.Run(authority, func(t *testing.T) {
			t.Parallel()
			a := newAccount(t, bootstrap.Options{MaxReceiveCount: 50, VisibilityTimeout: 4 * time.Second})
			const sims = 200
			var ids []string
			var cmds []events.SimCommand
			for i := range sims {
				ids = append(ids, iccid(i))
				cmds = append(cmds, create(iccid(i), fmt.Sprintf("10.6.%d.%d", i/200, i%200+1)))
			}
			publish(t, a, cmds...)
			foreign := foreignCertificates(t, a)

			env := serviceEnv(a, a.endpoint, "WORKERS=8", "CERT_AUTHORITY="+authority, "CLAIM_TTL=10s")
			logPath := filepath.Join(t.TempDir(), "provisioner.log")
			logOnFailure(t, logPath)
			rng := rand.New(rand.NewPCG(uint64(i+1), 2))
			store := simstore.NewDynamo(dynamodb.NewFromConfig(a.cfg), a.res.Table())
			for kill := range 6 {
				p := startBinary(t, binary(t, "provisioner"), env, logPath)
				time.Sleep(time.Duration(400+rng.IntN(1600)) * time.Millisecond)
				_ = p.cmd.Process.Signal(syscall.SIGKILL)
				<-p.done
				p.done <- nil
				active, pending := progress(t, store)
				t.Logf("kill %d: %d active, %d pending records", kill+1, active, pending)
			}
			startBinary(t, binary(t, "provisioner"), env, logPath)
			allActive(t, a, ids, 4*time.Minute)
			created := foreign.stop()
			rep := holds(t, a, authority, created)
			t.Logf("%s: %d active; %d orphans left by lost answers; %d foreign certificates", authority, rep.Active, len(rep.Orphans), len(created))
			foreign.untouched(t)
		})
	}
}

// foreign creates certificates in the account the way another application
// would, until stopped.
type foreignCreator struct {
	a       account
	mu      sync.Mutex
	created map[string]bool
	quit    chan struct{}
	wg      sync.WaitGroup
}

func foreignCertificates(t *testing.T, a account) *foreignCreator {
	t.Helper()
	f := &foreignCreator{a: a, created: map[string]bool{}, quit: make(chan struct{})}
	api := iot.NewFromConfig(a.cfg)
	f.wg.Go(func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-f.quit:
				return
			case <-tick.C:
			}
			out, err := api.CreateKeysAndCertificate(context.Background(), &iot.CreateKeysAndCertificateInput{SetAsActive: false})
			if err == nil {
				f.mu.Lock()
				f.created[aws.ToString(out.CertificateId)] = true
				f.mu.Unlock()
			}
		}
	})
	return f
}

// stop ends the creation and returns what was created.
func (f *foreignCreator) stop() map[string]bool {
	close(f.quit)
	f.wg.Wait()
	return f.created
}

// untouched checks that every foreign certificate is still there, INACTIVE,
// attached to nothing and without a policy.
func (f *foreignCreator) untouched(t *testing.T) {
	t.Helper()
	api := iot.NewFromConfig(f.a.cfg)
	ctx := context.Background()
	if len(f.created) < 10 {
		t.Fatalf("only %d foreign certificates were created: the test did not exercise anything", len(f.created))
	}
	for id := range f.created {
		d, err := api.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
		if err != nil {
			t.Errorf("foreign certificate %s: %v", id, err)
			continue
		}
		arn := d.CertificateDescription.CertificateArn
		things, _ := api.ListPrincipalThings(ctx, &iot.ListPrincipalThingsInput{Principal: arn})
		pols, _ := api.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: arn})
		if d.CertificateDescription.Status != iottypes.CertificateStatusInactive || len(things.Things) > 0 || len(pols.Policies) > 0 {
			t.Errorf("foreign certificate %s was touched: %s, things %v, %d policies", id, d.CertificateDescription.Status, things.Things, len(pols.Policies))
		}
	}
}

func progress(t *testing.T, store *simstore.Dynamo) (active, pending int) {
	t.Helper()
	err := store.Scan(context.Background(), func(s simrec.Summary) error {
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
